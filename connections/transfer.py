"""Export and import of records as a versioned JSON document without secrets (SPEC 8).

The one place the Import page, `manage.py export_records` / `import_records` and
/api/v1/export/ and /api/v1/import/ go through. A document is

    {"format": "email-connections-console", "version": 1, "exported_at": "...",
     "records": [{"type": "email_connection", "name": "Mailer", "smtp_server": ..., ...}]}

Records reference each other by name (a template's connection, a connection's OAuth
Client, Business Services), so a document imports into another database. Secrets, tokens,
authorization state, test results, run state, metadata and history are never written,
and a document carrying a secret is refused. Import runs every record through
`records.save_record` in one transaction; a dry run is the same run, rolled back.
"""

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models, transaction
from django.utils import timezone

from connections import records
from connections.models import (
    DERIVED_SORT_COLUMNS,
    BusinessService,
    EmailConnection,
    EmailMonitorTask,
    EmailTask,
    EmailTemplate,
    OAuthClient,
    Record,
)

FORMAT = "email-connections-console"
VERSION = 1
DEFAULT_MAX_BYTES = 10 * 1024 * 1024

# Import order: a record comes after every record type it may refer to.
TYPES: dict[str, type[Record]] = {
    "business_service": BusinessService,
    "oauth_client": OAuthClient,
    "email_connection": EmailConnection,
    "email_template": EmailTemplate,
    "email_task": EmailTask,
    "email_monitor_task": EmailMonitorTask,
}
KEYS = {model: key for key, model in TYPES.items()}
METADATA = {"id", "version", "uuid", "created_by", "created_at", "updated_by", "updated_at"}
SERVICES = "business_services"


class TransferError(Exception):
    """Input that cannot be exported or imported; `problems` says each reason."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def label(model: type[Record]) -> str:
    return str(model._meta.verbose_name)


def max_bytes() -> int:
    return int(getattr(settings, "IMPORT_MAX_BYTES", DEFAULT_MAX_BYTES))


def model_for(name: str) -> type[Record]:
    """A record type by its document key, model name or label ("Email Connection")."""
    wanted = "".join(c for c in name.lower() if c.isalnum())
    for key, model in TYPES.items():
        if wanted in (key.replace("_", ""), model._meta.model_name):
            return model
    raise TransferError([f"Unknown record type {name!r}: use one of {', '.join(TYPES)}."])


def secret_names(model: type[Record]) -> set[str]:
    """What a secret of model is called in any spelling: column, plain name, marker."""
    names = set()
    columns = set(model.secret_fields) | {s for s in model.state_fields if "token" in s}
    for column in columns:
        plain = column.removesuffix("_enc")
        names |= {column, plain, f"{plain}_changed_at"}
    return names


def exported_fields(model: type[Record]) -> list[models.Field]:
    """The settings of a record: its versioned fields but secrets, state and metadata."""
    skip = METADATA | secret_names(model) | set(model.state_fields) | set(DERIVED_SORT_COLUMNS)
    return [f for f in model._meta.concrete_fields if f.name not in skip]


def references(model: type[Record]) -> dict[str, type[Record]]:
    """Fields that name another record (by its name in the document)."""
    return {
        f.name: f.related_model
        for f in exported_fields(model)
        if f.is_relation and f.related_model in KEYS
    }


def has_services(model: type[Record]) -> bool:
    return any(f.name == SERVICES for f in model._meta.many_to_many)


def visible(model: type[Record], user: Any) -> models.QuerySet:
    """What the actor may see; no user is the system (a command without --user): all."""
    if user is None:
        return model.objects.all()
    return model.objects.visible_to(user)


def may(user: Any, action: str, model: type[Record]) -> bool:
    return user is None or user.has_perm(f"connections.{action}_{model._meta.model_name}")


# Export ------------------------------------------------------------------------------


def select(user: Any, types: Iterable[str] = (), names: Iterable[str] = ()) -> list[Record]:
    """The records of the given types (all by default) and names (all by default) that the
    user may see; a name that matches nothing is an error."""
    models_ = [model_for(t) for t in types] or list(TYPES.values())
    names = [n.strip() for n in names if n.strip()]
    found: list[Record] = []
    for model in models_:
        if not may(user, "view", model):
            continue
        queryset = visible(model, user)
        if names:
            matching = models.Q()
            for name in names:
                matching |= models.Q(name__iexact=name)
            queryset = queryset.filter(matching)
        found += list(queryset.order_by("name"))
    missing = [n for n in names if not any(r.name.lower() == n.lower() for r in found)]
    if missing:
        raise TransferError([f"No record named {n!r} to export." for n in missing])
    return found


def needed(record: Record, user: Any) -> list[Record]:
    """The records a record refers to, which an import elsewhere needs too."""
    found = []
    for name, model in references(type(record)).items():
        target = getattr(record, name)
        if target is not None and visible(model, user).filter(pk=target.pk).exists():
            found.append(target)
    if has_services(type(record)):
        found += list(record.business_services.filter(pk__in=visible(BusinessService, user)))
    return found


def export(selected: Iterable[Record], user: Any, with_needed: bool = True) -> dict[str, Any]:
    """The document of the selected records (and, unless opted out, what they need)."""
    chosen: dict[tuple[type, int], Record] = {}
    todo = list(selected)
    while todo:
        record = todo.pop()
        key = (type(record), record.pk)
        if key in chosen:
            continue
        chosen[key] = record
        if with_needed:
            todo += needed(record, user)
    order = list(TYPES.values())
    ordered = sorted(chosen.values(), key=lambda r: (order.index(type(r)), r.name.lower()))
    return {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": timezone.now().isoformat(),
        "records": [entry_of(r, user) for r in ordered],
    }


def entry_of(record: Record, user: Any) -> dict[str, Any]:
    model = type(record)
    entry: dict[str, Any] = {"type": KEYS[model]}
    for f in exported_fields(model):
        if f.name in references(model):
            target = getattr(record, f.name)
            entry[f.name] = target.name if target is not None else None
        else:
            entry[f.name] = f.value_from_object(record)
    if has_services(model):
        services = record.business_services.filter(pk__in=visible(BusinessService, user))
        entry[SERVICES] = sorted(services.values_list("name", flat=True))
    return entry


def dumps(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def file_name() -> str:
    return f"email-connections-{timezone.now():%Y%m%d-%H%M%S}.json"


# Import: reading and checking the document -------------------------------------------


@dataclass
class Entry:
    model: type[Record]
    name: str
    values: dict[str, Any]

    @property
    def title(self) -> str:
        return f'{label(self.model)} "{self.name}"'


def read(data: bytes | str) -> list[Entry]:
    """The entries of a document, or TransferError naming every problem found."""
    limit = max_bytes()
    if len(data) > limit:
        raise TransferError([f"The file is larger than the limit of {limit // 1024} KiB."])
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise TransferError(["The file is not JSON: it is not UTF-8 text."]) from None
    try:
        document = json.loads(data)
    except (ValueError, RecursionError) as exc:
        problem = "nested too deep" if isinstance(exc, RecursionError) else str(exc)
        raise TransferError([f"The file is not JSON: {problem}."]) from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise TransferError([f'Not an export of this console (no "format": "{FORMAT}").'])
    version = document.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise TransferError(['"version" must be a whole number (the format version).'])
    if version > VERSION:
        raise TransferError(
            [
                f"The file is format version {version}, from a newer version of the console; "
                f"this one reads up to version {VERSION}."
            ]
        )
    if not isinstance(document.get("exported_at", ""), str):
        raise TransferError(['"exported_at" must be a date and time (text).'])
    items = document.get("records")
    if not isinstance(items, list):
        raise TransferError(['"records" must be a list.'])
    problems: list[str] = []
    entries: list[Entry] = []
    for number, item in enumerate(items, 1):
        entry = read_entry(number, item, problems)
        if entry is not None:
            entries.append(entry)
    seen: set[tuple[type, str]] = set()
    for entry in entries:
        key = (entry.model, entry.name.lower())
        if key in seen:
            problems.append(f"{entry.title} is in the file twice.")
        seen.add(key)
    if problems:
        raise TransferError(problems)
    order = list(TYPES.values())
    return sorted(entries, key=lambda e: order.index(e.model))


def read_entry(number: int, item: object, problems: list[str]) -> Entry | None:
    where = f"Record {number}"
    if not isinstance(item, dict):
        problems.append(f"{where}: not an object.")
        return None
    kind = item.get("type")
    if not isinstance(kind, str) or kind not in TYPES:
        problems.append(f"{where}: unknown record type {kind!r} (one of {', '.join(TYPES)}).")
        return None
    model = TYPES[kind]
    name = item.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append(f'{where} ({label(model)}): "name" must be a non-blank text.')
        return None
    entry = Entry(model, name.strip(), {})
    fields = {f.name: f for f in exported_fields(model)}
    allowed = set(fields) | ({SERVICES} if has_services(model) else set())
    for key, value in item.items():
        if key == "type":
            continue
        if key in secret_names(model):
            problems.append(
                f'{entry.title}: "{key}" is a secret; secrets are never imported (type them '
                "in the console after the import)."
            )
        elif key not in allowed:
            why = "runtime state, not imported" if key in model.state_fields else "unknown"
            problems.append(f'{entry.title}: field "{key}" is {why}.')
        elif key == SERVICES:
            if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
                problems.append(f'{entry.title}: "{key}" must be a list of Business Service names.')
            else:
                entry.values[key] = value
        else:
            problem = type_problem(fields[key], value, key in references(model))
            if problem:
                problems.append(f'{entry.title}: field "{key}" {problem}.')
            else:
                entry.values[key] = value
    return entry


def type_problem(f: models.Field, value: object, reference: bool) -> str:
    """What is wrong with the JSON type of value for field f ("" when nothing)."""
    if value is None:
        return "" if f.null else "must not be null"
    if reference:
        return "" if isinstance(value, str) else "must be the name of a record (text)"
    if isinstance(f, models.JSONField):
        return ""
    if isinstance(f, models.BooleanField):
        return "" if isinstance(value, bool) else "must be true or false"
    if isinstance(f, models.IntegerField):
        ok = isinstance(value, int) and not isinstance(value, bool)
        return "" if ok else "must be a whole number"
    return "" if isinstance(value, str) else "must be text"


# Import: applying --------------------------------------------------------------------

CREATE, UPDATE, UNCHANGED, CONFLICT = "Create", "Update", "Unchanged", "Conflict"


@dataclass
class Outcome:
    type_label: str
    name: str
    action: str
    changed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type_label,
            "name": self.name,
            "action": self.action,
            "changed": self.changed,
            "notes": self.notes,
        }


@dataclass
class Plan:
    source: str
    outcomes: list[Outcome]
    applied: bool = False

    @property
    def conflicts(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.action == CONFLICT]

    def counts(self) -> dict[str, int]:
        return {
            a: sum(o.action == a for o in self.outcomes)
            for a in (CREATE, UPDATE, UNCHANGED, CONFLICT)
        }

    def summary(self) -> str:
        return ", ".join(f"{n} {a.lower()}" for a, n in self.counts().items() if n) or "nothing"

    def fingerprint(self) -> str:
        """What the preview showed, to tell at Apply whether the records moved meanwhile."""
        return json.dumps([o.to_dict() for o in self.outcomes], sort_keys=True)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "applied": self.applied,
            "counts": {a.lower(): n for a, n in self.counts().items()},
            "records": [o.to_dict() for o in self.outcomes],
        }


def run(data: bytes | str, user: Any, source: str, dry_run: bool = False) -> Plan:
    """Import a document: every record through the save path, in one transaction.

    A dry run (the preview) does the same and rolls back. With a Conflict nothing is
    applied; invalid records raise TransferError. Either way nothing is changed.
    """
    entries = read(data)
    user = user if getattr(user, "is_authenticated", False) else None
    with transaction.atomic():
        problems: list[str] = []
        outcomes = [import_one(e, user, source, problems) for e in entries]
        plan = Plan(source, outcomes)
        if problems:
            raise TransferError(problems)
        plan.applied = not dry_run and not plan.conflicts
        if not plan.applied:
            transaction.set_rollback(True)
    return plan


def import_one(entry: Entry, user: Any, source: str, problems: list[str]) -> Outcome:
    model = entry.model
    outcome = Outcome(label(model), entry.name, CREATE)
    existing = model.objects.filter(name__iexact=entry.name).first()
    conflict = conflict_of(entry, existing, user)
    if conflict:
        outcome.action, outcome.notes = CONFLICT, [conflict]
        return outcome
    record = existing or model()
    before = records.snapshot(existing) if existing else None
    m2m = assign(entry, record, user, problems)
    if m2m is None:
        return outcome
    if isinstance(record, EmailConnection) and existing is not None:
        outcome.notes += unbind_password(record, EmailConnection.objects.get(pk=record.pk))
    try:
        record.full_clean()
    except ValidationError as exc:
        for name, messages in exc.message_dict.items():
            if name == "system_connection":
                outcome.action = CONFLICT
                outcome.notes += messages
            else:
                problems.append(f"{entry.title}: {field_label(model, name)}: {' '.join(messages)}")
        return outcome
    try:
        result = records.save_record(record, user, m2m=m2m, reason=f"Imported from {source}")
    except (ValidationError, records.NameTaken) as exc:
        why = " ".join(exc.messages) if isinstance(exc, ValidationError) else "Name must be unique."
        problems.append(f"{entry.title}: {why}")
        return outcome
    if existing is None:
        outcome.notes += new_record_notes(record)
        return outcome
    if not result.changed:
        outcome.action = UNCHANGED
        return outcome
    outcome.action = UPDATE
    after = records.snapshot(model.objects.get(pk=record.pk))
    outcome.changed = [field_label(model, n) for n in after if after[n] != before[n]]
    return outcome


def conflict_of(entry: Entry, existing: Record | None, user: Any) -> str:
    """Why the record in the file cannot be applied to this database ("" when it can)."""
    model = entry.model
    if existing is not None and not visible(model, user).filter(pk=existing.pk).exists():
        return "A record of this name exists in a Business Service you are not a member of."
    action = "change" if existing else "add"
    if not may(user, action, model):
        return f"You lack the permission to {action} {label(model)}s."
    if isinstance(existing, EmailConnection):
        wanted = entry.values.get("connection_type", EmailConnection.Type.OUTGOING)
        if wanted != existing.connection_type:
            return (
                f"A connection of this name here is {existing.get_connection_type_display()}; "
                f"the file's is {wanted}: rename one of them."
            )
    if isinstance(existing, OAuthClient):
        wanted = entry.values.get("provider", OAuthClient.Provider.MICROSOFT)
        if wanted != existing.provider:
            return (
                f"An OAuth Client of this name here uses {existing.get_provider_display()}; "
                f"the file's uses {wanted} (a Provider cannot be changed): rename one of them."
            )
    return ""


def assign(entry: Entry, record: Record, user: Any, problems: list[str]) -> dict[str, list] | None:
    """Put the entry's values on record; None (with problems) when a reference is missing."""
    model = entry.model
    refs = references(model)
    ok = True
    record.name = entry.name
    for name, value in entry.values.items():
        if name in refs:
            target = None
            if value is not None:
                target = visible(refs[name], user).filter(name__iexact=value).first()
                if target is None:
                    problems.append(missing(entry, refs[name], value))
                    ok = False
            setattr(record, name, target)
        elif name != SERVICES:
            setattr(record, name, value)
    m2m: dict[str, list] = {}
    if has_services(model) and SERVICES in entry.values:
        services = []
        for value in entry.values[SERVICES]:
            service = visible(BusinessService, user).filter(name__iexact=value).first()
            if service is None:
                problems.append(missing(entry, BusinessService, value))
                ok = False
            services.append(service)
        m2m[SERVICES] = services
    return m2m if ok else None


def missing(entry: Entry, model: type[Record], name: str) -> str:
    return (
        f'{entry.title}: {label(model)} "{name}" is neither in the file nor in this database '
        "(among the records you can see)."
    )


def unbind_password(record: EmailConnection, stored: EmailConnection) -> list[str]:
    """A stored password only goes where it was stored for, and a file cannot bring one: an
    import that moves a Password connection elsewhere leaves it without (Password needed)."""
    if not record.unbound_password(stored):
        return []
    EmailConnection.objects.filter(pk=record.pk).update(password_enc="")
    record.clear_secret("password")
    return ["Password needed: the stored password is not sent to the new server or user."]


def new_record_notes(record: Record) -> list[str]:
    if not isinstance(record, EmailConnection):
        return []
    if record.password_needed:
        return ["Password needed: type it in the console."]
    if record.uses_oauth:
        return ["Not authorized: Authorize it in the console."]
    return []


def field_label(model: type[Record], name: str) -> str:
    if name == "__all__":
        return "Record"
    for column, marker_label in model.secret_fields.items():
        if name == f"{column.removesuffix('_enc')}_changed_at":
            return marker_label
    try:
        return str(model._meta.get_field(name).verbose_name)
    except FieldDoesNotExist:
        return name
