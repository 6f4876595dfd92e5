"""Versions of a record, built on simple-history: which fields changed, side by side.

A history row holds a record's settings at one version, plus the many-to-many members
snapshotted by `records.save_record`. Secrets are never in a row; their `*_changed_at`
marker is, so a change shows as "changed" and never with a value.
"""

from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.paginator import Page, Paginator
from django.db import models

from connections import records
from connections.models import Record
from connections.records import tracked_fields

SECRET_MARKER_SUFFIX = "_changed_at"


@dataclass
class Version:
    number: int
    date: object
    user: object
    kind: str
    reason: str
    history_id: int
    values: dict[str, object]
    changed: list[str] = field(default_factory=list)


def _m2m_links(model: type[Record]) -> list[tuple[str, str, str]]:
    """(field name, accessor on the history row, attname of the target on the link row)."""
    links = []
    for m2m in model._meta.many_to_many:
        link_model = model.history_tracker.m2m_models[m2m]
        accessor = link_model._meta.get_field("history").remote_field.get_accessor_name()
        target = next(
            f.attname
            for f in link_model._meta.concrete_fields
            if f.is_relation and f.related_model is m2m.related_model
        )
        links.append((m2m.name, accessor, target))
    return links


def labels(model: type[Record]) -> dict[str, str]:
    """Field name (attname) -> the label an operator sees."""
    names: dict[str, str] = {}
    for f in model._meta.concrete_fields:
        names[f.attname] = str(f.verbose_name)
    for secret, label in model.secret_fields.items():
        names[secret.removesuffix("_enc") + SECRET_MARKER_SUFFIX] = label
    for f in model._meta.many_to_many:
        names[f.name] = str(f.verbose_name)
    return names


def history_rows(record: Record) -> models.QuerySet:
    model = type(record)
    rows = record.history.select_related("history_user").order_by("-history_id")
    return rows.prefetch_related(*(accessor for _, accessor, _ in _m2m_links(model)))


def _values(model: type[Record], row: models.Model) -> dict[str, object]:
    values = {name: getattr(row, name) for name in tracked_fields(model)}
    for name, accessor, target in _m2m_links(model):
        values[name] = sorted(getattr(link, target) for link in getattr(row, accessor).all())
    return values


def _version(model: type[Record], row: models.Model) -> Version:
    return Version(
        number=row.version,
        date=row.history_date,
        user=row.history_user,
        kind=row.get_history_type_display(),
        reason=row.history_change_reason or "",
        history_id=row.history_id,
        values=_values(model, row),
    )


def changed_fields(model: type[Record], older: dict | None, newer: dict) -> list[str]:
    if older is None:
        return []
    names = labels(model)
    return [names.get(k, k) for k in newer if older.get(k) != newer[k]]


def versions_page(record: Record, page_number: object, per_page: int = 25) -> Page:
    """One page of versions, newest first, each with the labels of the fields it changed.

    A constant number of queries per page: the page's rows plus the one before the oldest.
    """
    model = type(record)
    paginator = Paginator(history_rows(record), per_page)
    page = paginator.get_page(page_number)
    rows = list(page.object_list)
    if rows:
        before = history_rows(record).filter(history_id__lt=rows[-1].history_id).first()
        chain = [*rows, before] if before else rows
        versions = [_version(model, row) for row in chain]
        for newer, older in zip(versions, [*versions[1:], None], strict=True):
            newer.changed = changed_fields(model, older.values if older else None, newer.values)
        page.object_list = versions[: len(rows)]
    return page


def get_version(record: Record, history_id: int) -> Version:
    row = history_rows(record).get(history_id=history_id)
    return _version(type(record), row)


@dataclass
class ComparedField:
    label: str
    left: object
    right: object
    changed: bool


def display_value(model: type[Record], name: str, value: object) -> object:
    if name.endswith(SECRET_MARKER_SUFFIX):
        return "set" if value else "not set"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    try:
        f = model._meta.get_field(name.removesuffix("_id"))
    except Exception:
        return value
    if f.many_to_many:
        objs = f.related_model._default_manager.filter(pk__in=value or [])
        return ", ".join(sorted(str(o) for o in objs)) or "—"
    if f.is_relation:
        return str(f.related_model._default_manager.filter(pk=value).first() or "—")
    if f.choices:
        return dict(f.flatchoices).get(value, value)
    return value


def applicable(model: type[Record], values: dict[str, object]) -> set[str] | None:
    """The attnames that apply to a version (Type/Authentication decide for a connection);
    None when every field applies. A secret counts under its marker."""
    if not hasattr(model, "applicable_fields"):
        return None
    plain = {f.attname: f.name for f in model._meta.concrete_fields if not f.is_relation}
    names = {f.attname: f.name for f in model._meta.concrete_fields}
    for secret in model.secret_fields:
        names[secret.removesuffix("_enc") + SECRET_MARKER_SUFFIX] = secret.removesuffix("_enc")
    applies = model(**{k: v for k, v in values.items() if k in plain}).applicable_fields()
    managed = {name for shown in model.field_rules()["rules"].values() for name in shown}
    return {k for k in values if names.get(k, k) not in managed or names.get(k, k) in applies}


def compare(record: Record, left: Version, right: Version) -> list[ComparedField]:
    """Fields side by side, those that apply to either version; a secret shows only whether
    it is set and whether it changed, never a value."""
    model = type(record)
    names = labels(model)
    shown = [applicable(model, left.values), applicable(model, right.values)]
    out = []
    for name in left.values:
        if None not in shown and not any(name in s for s in shown):
            continue
        a, b = left.values[name], right.values.get(name)
        out.append(
            ComparedField(
                names.get(name, name),
                display_value(model, name, a),
                display_value(model, name, b),
                a != b,
            )
        )
    return out


def version_by_number(record: Record, number: int) -> Version:
    row = history_rows(record).exclude(history_type="-").filter(version=number).first()
    if row is None:
        raise LookupError(f"{record} has no version {number}")
    return _version(type(record), row)


class RestoreRefused(Exception):
    pass


def restore(record: Record, number: int, user: object, password: str = "") -> records.SaveResult:
    """Write version `number`'s settings as a new version.

    Secrets and OAuth tokens are never restored: the current ones stay, where they may
    (a version with another server, port or user needs the password typed again).
    """
    model = type(record)
    old = version_by_number(record, number)
    if password and "password_enc" in model.secret_fields:
        record.set_secret("password", password)
    for name, value in old.values.items():
        if name.endswith(SECRET_MARKER_SUFFIX) or name in m2m_names(model):
            continue
        setattr(record, name, value)
    for f in model._meta.concrete_fields:
        target = getattr(record, f.attname) if f.is_relation else None
        if target and not f.related_model._default_manager.filter(pk=target).exists():
            raise RestoreRefused(
                f"Version {number} uses a {f.related_model._meta.verbose_name} that no longer "
                f"exists ({f.verbose_name}): nothing restored."
            )
    m2m = {}
    for name in m2m_names(model):
        related = model._meta.get_field(name).related_model
        m2m[name] = list(related._default_manager.filter(pk__in=old.values[name]))
    try:
        record.full_clean()
    except ValidationError as exc:
        problems = "; ".join(
            f"{labels(model).get(k, k)}: {' '.join(v)}" for k, v in exc.message_dict.items()
        )
        raise RestoreRefused(f"Version {number} cannot be restored: {problems}") from exc
    return records.save_record(record, user, m2m=m2m, reason=f"Restored version {number}")


def m2m_names(model: type[Record]) -> list[str]:
    return [f.name for f in model._meta.many_to_many]


def version_fields(record: Record, version: Version) -> list[tuple[str, object]]:
    """One version's values for reading, those that apply to its Type/Authentication; a
    secret shows only whether one was set."""
    model = type(record)
    names = labels(model)
    shown = applicable(model, version.values)
    return [
        (names.get(k, k), display_value(model, k, v))
        for k, v in version.values.items()
        if shown is None or k in shown
    ]
