"""API lists without DRF's per-field cost: the same JSON as the record serializer, built faster.

DRF serializes a row by asking every field for its attribute (a dotted-source walk) and then
for its representation, several calls per field and row, after Django has built a model
instance per row and per related row: for a page of 50 connections that costs more than the
query. A page given as a queryset is read here as values instead:

- only the columns the fields output (never a ciphertext: whether a secret is stored is read
  as `<secret>_stored`, which `Record.has_secret` knows), a reference's name through a join
  (`created_by.username`), a many-to-many field's ids in one query for the whole page, in the
  order the prefetch gives them (the related model's ordering);
- each field is turned once per page into one small reader of a row: plain text, numbers,
  booleans and choices are the stored value, dates and UUIDs are formatted as DRF does;
- method fields and properties (`status`, `password_set`) get the row as a model instance made
  without `__init__` (its `__dict__` is the row), with the related rows the serializer names
  in `Meta.row_related` (e.g. `oauth_client__scopes`) made the same way.

Anything else falls back to the field's own `get_attribute` / `to_representation`, so the
output is the serializer's. A page given as instances is read off them as before.
"""

from collections.abc import Callable, Iterable
from operator import attrgetter, itemgetter
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.db.models import Q, QuerySet
from django.db.models.base import ModelState
from rest_framework import ISO_8601, fields, relations, serializers
from rest_framework.settings import api_settings

# Fields whose representation of a stored value is the value itself.
PLAIN = (fields.CharField, fields.IntegerField, fields.BooleanField, fields.ChoiceField)

Reader = Callable[[dict[str, Any], Any], Any]


def reader(field: serializers.Field) -> Callable[[Any], Any]:
    """A reader of one field off a model instance (pages given as instances)."""
    if isinstance(field, fields.SerializerMethodField):
        return getattr(field.parent, field.method_name)
    if isinstance(field, relations.ManyRelatedField):
        child = field.child_relation
        if isinstance(child, relations.PrimaryKeyRelatedField) and len(field.source_attrs) == 1:
            # The prefetched rows' pks, as PrimaryKeyRelatedField gives them.
            name = field.source_attrs[0]
            return lambda record: [item.pk for item in getattr(record, name).all()]
    if isinstance(field, relations.PrimaryKeyRelatedField) and len(field.source_attrs) == 1:
        attname = f"{field.source_attrs[0]}_id"
        return attrgetter(attname)
    get = attrgetter(".".join(field.source_attrs)) if field.source_attrs else None
    if get is not None and isinstance(field, PLAIN) and not isinstance(field, fields.URLField):

        def plain(record: Any) -> Any:
            try:
                value = get(record)
            except AttributeError:
                return None  # a null foreign key on the way (created_by.username)
            return value.value if isinstance(value, models.Choices) else value

        return plain

    def general(record: Any) -> Any:
        value = field.get_attribute(record)
        return None if value is None else field.to_representation(value)

    return general


# ---------------------------------------------------------------- pages read as values


def formatter(field: serializers.Field) -> Callable[[Any], Any] | None:
    """The field's representation of a stored (not None) value, as `to_representation`;
    None when it is the value itself."""
    if isinstance(field, PLAIN) and not isinstance(field, fields.MultipleChoiceField):
        return None
    if isinstance(field, fields.DateTimeField):
        return datetime_formatter(field)
    if isinstance(field, fields.UUIDField) and field.uuid_format == "hex_verbose":
        return str
    return field.to_representation


def datetime_formatter(field: fields.DateTimeField) -> Callable[[Any], Any]:
    """DRF's ISO 8601 (UTC as Z) in the field's time zone, without its per-call lookups."""
    output = getattr(field, "format", api_settings.DATETIME_FORMAT)
    zone = field.timezone if hasattr(field, "timezone") else field.default_timezone()
    if output is None or output.lower() != ISO_8601 or zone is None:
        return field.to_representation

    def iso(value: Any) -> Any:
        if isinstance(value, str) or value.tzinfo is None:
            return field.to_representation(value)
        try:
            text = value.astimezone(zone).isoformat()
        except OverflowError:
            return field.to_representation(value)  # DRF's own error
        return text[:-6] + "Z" if text.endswith("+00:00") else text

    return iso


def value_reader(key: str, format: Callable[[Any], Any] | None) -> Reader:
    if format is None:
        get = itemgetter(key)
        return lambda row, record: get(row)

    def read(row: dict[str, Any], record: Any) -> Any:
        value = row[key]
        return None if value is None else format(value)

    return read


class NotPlanned(Exception):
    """A field the values path cannot read: the page is read as instances."""


# What reads a page of each serializer class (its fields do not depend on the request).
PLANS: dict[type, "Plan | None"] = {}


def plan_for(serializer: serializers.Serializer, model: type[models.Model]) -> "Plan | None":
    key = type(serializer)
    if key not in PLANS:
        try:
            PLANS[key] = Plan(serializer, model)
        except NotPlanned:
            PLANS[key] = None
    plan = PLANS[key]
    return plan if plan is not None and plan.model is model else None


class Plan:
    """How to read a page of `model` as values for `serializer`'s fields.

    Made once per serializer class: building a ModelSerializer's fields costs as much as
    reading the page. A page's readers are made from it per page (the time zone of the
    request, the serializer's methods bound to the serializer at hand).
    """

    def __init__(self, serializer: serializers.Serializer, model: type[models.Model]) -> None:
        self.model = model
        meta = model._meta
        self.pk = meta.pk.attname
        self.columns: list[str] = [self.pk]
        # Whether a secret is stored, never the ciphertext (Record.has_secret reads these).
        self.annotations = {
            f"{name}_stored": ~Q(**{name: ""}) for name in getattr(model, "secret_fields", {})
        }
        self.related: dict[str, tuple[models.ForeignKey, list[str]]] = {}
        for path in getattr(getattr(serializer, "Meta", None), "row_related", ()):
            name, column = path.split("__")
            fk = meta.get_field(name)
            self.related.setdefault(name, (fk, []))[1].append(column)
            self.need(fk.attname)
            self.need(path)
        self.many: dict[str, models.ManyToManyField] = {}
        self.computed = False  # whether a reader needs the row as an instance
        self.entries = [
            (name, *self.plan(field))
            for name, field in serializer.fields.items()
            if not field.write_only
        ]
        self.names = [name for name, *_ in self.entries]
        # The values output as they are, in one call per row (the others' places hold the pk).
        keys = [key or self.pk for _, key, _, _ in self.entries]
        self.as_stored = itemgetter(*keys) if len(keys) > 1 else lambda row: (row[keys[0]],)

    def need(self, column: str) -> None:
        if column not in self.columns:
            self.columns.append(column)

    def model_field(self, name: str) -> models.Field | None:
        try:
            return self.model._meta.get_field(name)
        except FieldDoesNotExist:
            return None

    def plan(self, field: serializers.Field) -> tuple[str | None, Reader | None, Callable | None]:
        """(the row's key when the value is output as it is, else a reader, or a function of
        the serializer making the page's reader)."""
        source = field.source_attrs
        first = self.model_field(source[0]) if len(source) >= 1 else None
        if isinstance(field, relations.ManyRelatedField):
            child = field.child_relation
            if (
                isinstance(child, relations.PrimaryKeyRelatedField)
                and child.pk_field is None
                and len(source) == 1
                and isinstance(first, models.ManyToManyField)
            ):
                self.many[first.name] = first
                return first.name, None, None
            raise NotPlanned(field.field_name)
        if isinstance(field, relations.PrimaryKeyRelatedField):
            if len(source) == 1 and first is not None and first.many_to_one and not field.pk_field:
                self.need(first.attname)
                return first.attname, None, None
            raise NotPlanned(field.field_name)
        if isinstance(field, relations.RelatedField):
            raise NotPlanned(field.field_name)
        key = None
        if len(source) == 1 and first is not None and first.concrete and not first.is_relation:
            key = first.attname
        elif len(source) == 2 and first is not None and first.many_to_one:
            target = first.related_model._meta
            try:
                column = target.get_field(source[1])
            except FieldDoesNotExist:
                column = None
            if column is not None and column.concrete and not column.is_relation:
                key = f"{first.name}__{column.attname}"
        if key is not None:
            self.need(key)
            if isinstance(field, fields.DateTimeField):
                return None, None, lambda serializer: value_reader(key, datetime_formatter(field))
            format = formatter(field)
            return (key, None, None) if format is None else (None, value_reader(key, format), None)
        if isinstance(field, fields.SerializerMethodField):
            self.computed = True
            name = field.method_name

            def bind(serializer: serializers.Serializer) -> Reader:
                method = getattr(serializer, name)
                return lambda row, record: method(record)

            return None, None, bind
        if len(source) == 1 and first is None:
            # A property or method of the model, computed off the row.
            self.computed = True

            def computed(row: dict[str, Any], record: Any) -> Any:
                value = field.get_attribute(record)
                return None if value is None else field.to_representation(value)

            return None, computed, None
        raise NotPlanned(field.field_name)

    def read(self, queryset: QuerySet, serializer: serializers.Serializer) -> list[dict[str, Any]]:
        rows = list(
            queryset.prefetch_related(None)
            .select_related(None)
            .annotate(**self.annotations)
            .values(*self.columns, *self.annotations)
        )
        if rows and self.many:
            pks = [row[self.pk] for row in rows]
            for name, field in self.many.items():
                members: dict[Any, list] = {pk: [] for pk in pks}
                related = field.related_model._default_manager
                lookup = field.related_query_name()
                pairs = related.filter(**{f"{lookup}__in": pks}).values_list(lookup, "pk")
                for owner, pk in pairs:
                    members[owner].append(pk)
                for row in rows:
                    row[name] = members[row[self.pk]]
        readers = [
            (place, reader or make(serializer))
            for place, (_, key, reader, make) in enumerate(self.entries)
            if key is None
        ]
        records = [self.record(row) for row in rows] if self.computed else [None] * len(rows)
        page = []
        for row, record in zip(rows, records, strict=True):
            values = list(self.as_stored(row))
            for place, read in readers:
                values[place] = read(row, record)
            page.append(dict(zip(self.names, values, strict=True)))
        return page

    def record(self, row: dict[str, Any]) -> models.Model:
        """The row as a model instance, without __init__ (for methods and properties)."""
        record = self.model.__new__(self.model)
        record.__dict__.update(row)
        state = record._state = ModelState()
        state.adding = False
        for name, (fk, columns) in self.related.items():
            pk = row[fk.attname]
            if pk is None:
                state.fields_cache[name] = None
                continue
            related = fk.related_model.__new__(fk.related_model)
            related.__dict__.update({c: row[f"{name}__{c}"] for c in columns})
            related.__dict__[fk.related_model._meta.pk.attname] = pk
            related._state = ModelState()
            related._state.adding = False
            state.fields_cache[name] = related
        return record


class RowsSerializer(serializers.ListSerializer):
    def to_representation(self, data: Iterable[Any]) -> list[dict[str, Any]]:
        plan = plan_for(self.child, data.model) if isinstance(data, QuerySet) else None
        if plan is not None:
            return plan.read(data, self.child)
        iterable = data.all() if isinstance(data, models.manager.BaseManager) else data
        fields = self.child.fields.items()
        readers = [(name, reader(field)) for name, field in fields if not field.write_only]
        return [{name: read(record) for name, read in readers} for record in iterable]
