"""The admin's history page at a constant number of queries, however many versions.

simple-history diffs each listed version against the one before with two queries per row
for the many-to-many snapshots (Business Services): 200 queries for a page of 100. Here a
page's snapshots are read in one query and compared in Python; the other fields are diffed
as simple-history does (their foreign keys are already joined by its history queryset).
"""

from collections import defaultdict
from collections.abc import Sequence
from itertools import pairwise
from typing import Any

from django.http import HttpRequest
from simple_history.models import ModelChange, ModelDelta
from simple_history.utils import get_m2m_reverse_field_name


class ConstantHistoryPage:
    """A mixin for SimpleHistoryAdmin."""

    def set_history_delta_changes(
        self,
        request: HttpRequest,
        historical_records: Sequence[Any],
        foreign_keys_are_objs: bool = True,
    ) -> None:
        rows = list(historical_records)
        if len(rows) < 2:
            return
        # m2m_models is simple-history's registry of every model's snapshot tables.
        models = self.model.history_tracker.m2m_models
        tracked = {field.name: models[field] for field in rows[0]._history_m2m_fields}
        m2m = list(tracked)
        snapshots = {name: self.snapshots(tracked[name], name, rows) for name in m2m}
        for previous, current in pairwise(rows):
            delta = previous.diff_against(
                current, excluded_fields=m2m, foreign_keys_are_objs=foreign_keys_are_objs
            )
            changes, changed = list(delta.changes), list(delta.changed_fields)
            for name in m2m:
                old = snapshots[name].get(current.history_id, [])
                new = snapshots[name].get(previous.history_id, [])
                if [list(row.values()) for row in old] != [list(row.values()) for row in new]:
                    changes.append(ModelChange(name, old, new))
                    changed.append(name)
            delta = ModelDelta(changes, changed, delta.old_record, delta.new_record)
            helper = self.get_historical_record_context_helper(request, previous)
            previous.history_delta_changes = helper.context_for_delta_changes(delta)

    def snapshots(
        self, m2m_model: type, name: str, rows: list[Any]
    ) -> dict[int, list[dict[str, Any]]]:
        """History id -> the related objects of that version, as simple-history lists them."""
        reverse = get_m2m_reverse_field_name(self.model._meta.get_field(name))
        links = (
            m2m_model.objects.filter(history__in=[row.history_id for row in rows])
            .select_related(reverse)
            .order_by(reverse)
        )
        found: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for link in links:
            found[link.history_id].append({reverse: getattr(link, reverse)})
        return found
