"""Counting and paging lists whose cost does not grow with the table.

An exact COUNT visits every matching row: at 100,000 connections it is most of a list page's
time. Lists count only up to a bound (``EXACT_UP_TO`` rows, or ten pages past the one asked
for, whichever is more) and say "250+" beyond it; ``count=all`` in the query asks for the
exact number when somebody needs it. The last page of a list with more rows than the bound is
read backwards (the same order reversed, the first rows taken), so it costs what the first
page costs.
"""

import math
from dataclasses import dataclass

from django.core.paginator import Page, Paginator
from django.db import connections
from django.db.models import QuerySet
from django.utils.functional import cached_property

EXACT_UP_TO = 250
PAGES_AHEAD = 10


@dataclass(frozen=True)
class Count:
    """How many rows match: exact, or at least `value` (then `exact` is False)."""

    value: int
    exact: bool

    def __str__(self) -> str:
        return f"{self.value:,}" if self.exact else f"{self.value:,}+"


def bound_for(offset: int, per_page: int) -> int:
    """Rows to count for a page starting at `offset`: enough to show the pages after it."""
    return max(EXACT_UP_TO, offset + per_page * PAGES_AHEAD)


def bounded_count(queryset: QuerySet, bound: int, exact: bool = False) -> Count:
    """Count the rows of `queryset` up to `bound` (every row when `exact`).

    The rows are counted in a subquery limited to bound + 1 rows, so the database stops after
    the first bound + 1 matches. SQLite reads them in primary key order: left to choose, it
    reads the narrowest index, and an index on a filtered column can put every match last.
    PostgreSQL chooses its own way (a search reads the trigram indexes; an order would make it
    sort every match).
    """
    in_pk_order = connections[queryset.db].vendor == "sqlite"
    rows = (queryset.order_by("pk") if in_pk_order else queryset.order_by()).values("pk")
    if exact:
        return Count(rows.count(), True)
    found = rows[: bound + 1].count()
    return Count(found, True) if found <= bound else Count(bound, False)


def wants_exact(params: object) -> bool:
    return params.get("count") == "all"


class BoundedPaginator(Paginator):
    """Django's Paginator with a bounded count (`count` is the bound when `exact` is False)."""

    def __init__(
        self,
        object_list: QuerySet,
        per_page: int,
        bound: int,
        exact: bool = False,
        **kwargs: object,
    ) -> None:
        super().__init__(object_list, per_page, **kwargs)
        self.bound, self.want_exact = bound, exact

    @cached_property
    def counted(self) -> Count:
        return bounded_count(self.object_list, self.bound, self.want_exact)

    @cached_property
    def count(self) -> int:
        return self.counted.value

    @property
    def exact(self) -> bool:
        return self.counted.exact

    @cached_property
    def num_pages(self) -> int:
        if self.count == 0 and not self.allow_empty_first_page:
            return 0
        return max(1, math.ceil(self.count / self.per_page))

    def last_rows(self) -> "LastPage":
        """The last page of a list longer than the bound: its order reversed, read from the top."""
        rows = list(self.object_list.reverse()[: self.per_page])
        rows.reverse()
        return LastPage(rows, self)


class LastPage(Page):
    """The last rows of a list whose length is not known (no page number, no next page)."""

    is_last_unnumbered = True

    def __init__(self, object_list: list, paginator: BoundedPaginator) -> None:
        super().__init__(object_list, None, paginator)

    def __repr__(self) -> str:
        return "<Last page>"

    def has_next(self) -> bool:
        return False

    def has_previous(self) -> bool:
        return False

    def has_other_pages(self) -> bool:
        return True

    def start_index(self) -> int:
        return 0

    def end_index(self) -> int:
        return 0
