"""What every record type shares when it is saved, copied or deleted.

Pages, the admin, the API and management commands all save through `save_record`, so the
version, the metadata and the single history row per change are the same whoever acts.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import IntegrityError, models, transaction
from django.utils import timezone

from connections.models import (
    DERIVED_SORT_COLUMNS,
    BusinessService,
    EmailConnection,
    EmailTask,
    EmailTemplate,
    OAuthClient,
    Record,
)


class StaleRecord(Exception):
    """The record changed since the editor opened it."""

    def __init__(self, current: Record) -> None:
        super().__init__(f"{current} is at version {current.version}")
        self.current = current


class NameTaken(Exception):
    pass


class RecordInUse(Exception):
    def __init__(self, users: list[str]) -> None:
        super().__init__(", ".join(users))
        self.users = users


@dataclass
class SaveResult:
    record: Record
    created: bool
    changed: bool


def tracked_fields(model: type[Record]) -> list[str]:
    """The columns a version is made of (secrets by their value-less marker, not the value)."""
    skip = {"id", "version", "created_by", "created_at", "updated_by", "updated_at", "uuid"}
    skip |= set(model.secret_fields) | set(model.state_fields) | set(DERIVED_SORT_COLUMNS)
    return [f.attname for f in model._meta.concrete_fields if f.name not in skip]


def m2m_fields(model: type[Record]) -> list[str]:
    return [f.name for f in model._meta.many_to_many]


def snapshot(record: Record, m2m: dict[str, Iterable] | None = None) -> dict[str, object]:
    values = {name: getattr(record, name) for name in tracked_fields(type(record))}
    for name in m2m_fields(type(record)):
        if m2m is not None and name in m2m:
            values[name] = sorted(getattr(o, "pk", o) for o in m2m[name])
        elif record.pk:
            values[name] = sorted(getattr(record, name).values_list("pk", flat=True))
        else:
            values[name] = []
    return values


@transaction.atomic
def save_record(
    record: Record,
    user: object,
    m2m: dict[str, Iterable] | None = None,
    expected_version: int | None = None,
    reason: str = "",
) -> SaveResult:
    """Store a new record or a change: version +1, metadata, one history row.

    An update with nothing changed stores nothing. An update from an editor that opened an
    older version raises StaleRecord, and nothing is written.
    """
    model = type(record)
    creating = record._state.adding
    user = user if getattr(user, "is_authenticated", False) else None
    now = timezone.now()
    if creating:
        record.version = 1
        record.created_by, record.created_at = user, now
    else:
        current = model.objects.select_for_update().get(pk=record.pk)
        if expected_version is not None and current.version != expected_version:
            raise StaleRecord(current)
        # Runtime state (tokens a worker may have just rotated, the last test) is not the
        # editor's to write back: take the locked row's, then drop what cannot follow.
        for name in model.state_fields:
            setattr(record, name, getattr(current, name))
        record.bind_to(current)
        m2m = keep_hidden_memberships(record, m2m, user)
        if snapshot(current) == snapshot(record, m2m):
            record.typed_secrets = set()
            return SaveResult(record, created=False, changed=False)
        # The conditional update is what makes two concurrent Updates safe on any database.
        bumped = model.objects.filter(pk=record.pk, version=current.version).update(
            version=current.version + 1
        )
        if not bumped:
            raise StaleRecord(model.objects.get(pk=record.pk))
        record.version = current.version + 1
        record.created_by_id, record.created_at = current.created_by_id, current.created_at
    record.updated_by, record.updated_at = user, now
    record.skip_history_when_saving = True
    try:
        with transaction.atomic():
            record.save()
    except IntegrityError as exc:
        raise NameTaken(record.name) from exc
    finally:
        del record.skip_history_when_saving
    for name, values in (m2m or {}).items():
        getattr(record, name).set(values)
    record._history_user = user
    record._change_reason = reason or None
    model.history_tracker.create_historical_record(record, "+" if creating else "~")
    record.typed_secrets = set()  # typed for this change only
    return SaveResult(record, created=creating, changed=True)


def keep_hidden_memberships(
    record: Record, m2m: dict[str, Iterable] | None, user: object
) -> dict[str, Iterable] | None:
    """Memberships in Business Services the actor cannot see are not theirs to change.

    Whoever saves (page, admin, API, seed API, Restore, import), a service the actor is
    not a member of keeps exactly its current membership: never removed, never added.
    Superusers and the system (no user) see every service.
    """
    if not m2m or "business_services" not in m2m or user is None or user.is_superuser:
        return m2m
    visible = set(BusinessService.objects.of_member(user).values_list("pk", flat=True))
    wanted = {getattr(s, "pk", s) for s in m2m["business_services"]}
    stored = set(record.business_services.values_list("pk", flat=True))
    kept = (wanted & visible) | (stored - visible)
    return {**m2m, "business_services": sorted(kept)}


def save_state(record: Record, **values: object) -> None:
    """Store runtime state (tokens, last test) without a new version or history row."""
    for name, value in values.items():
        setattr(record, name, value)
    type(record).objects.filter(pk=record.pk).update(**values)


def copy_record(record: Record, name: str, user: object) -> Record:
    """A copy under a new name: settings, secrets and memberships; never OAuth tokens."""
    model = type(record)
    m2m = {f: list(getattr(record, f).all()) for f in m2m_fields(model)}
    copy = model.objects.get(pk=record.pk)
    copy.pk = copy.id = None
    copy._state.adding = True
    copy.uuid = None
    copy.uuid = model._meta.get_field("uuid").get_default()
    copy.name = name
    if isinstance(copy, EmailConnection):
        copy.system_connection = False
    for field in model.state_fields:
        setattr(copy, field, model._meta.get_field(field).get_default())
    copy.full_clean()
    return save_record(copy, user, m2m=m2m, reason=f"Copied from {record.name}").record


def record_users(record: Record, user: object = None) -> list[str]:
    """What uses a record, named for an operator, e.g. ['Email Template "Invoices"'].

    Given a user, the users that user may not see are counted, not named.
    """
    uses = record_uses(record)
    if user is None:
        return [f'{type(u)._meta.verbose_name} "{u.name}"' for u in uses]
    visible: set[tuple[type, int]] = set()
    for model in {type(u) for u in uses}:
        ids = [u.pk for u in uses if type(u) is model]
        shown = model.objects.visible_to(user).filter(pk__in=ids).values_list("pk", flat=True)
        visible |= {(model, pk) for pk in shown}
    named = [f'{type(u)._meta.verbose_name} "{u.name}"' for u in uses if (type(u), u.pk) in visible]
    hidden = len(uses) - len(named)
    if hidden:
        named.append(f"{hidden} record{'s' if hidden > 1 else ''} you cannot see")
    return named


def record_uses(record: Record) -> list[models.Model]:
    """The records that use `record`: its templates and tasks, an OAuth Client's connections."""
    uses: list[models.Model] = []
    if isinstance(record, EmailConnection):
        uses += list(record.templates.order_by("name"))
        uses += list(EmailTask.objects.using_connection(record).order_by("name"))
        uses += list(record.monitor_tasks.order_by("name"))
    if isinstance(record, EmailTemplate):
        uses += list(record.tasks.order_by("name"))
    if isinstance(record, OAuthClient):
        uses += list(record.connections.order_by("name"))
    return uses


@transaction.atomic
def delete_record(record: Record, user: object) -> None:
    actor = user if getattr(user, "is_authenticated", False) else None
    users = record_users(record, actor)  # the refusal names only what the actor may see
    if users:
        raise RecordInUse(users)
    record._history_user = actor
    record.delete()
