"""JSON fields that take only the JSON type the schema documents.

DRF's stock fields coerce ("25" -> 25, "yes" -> True, 12 -> "12"). The OpenAPI schema says
`integer`, `boolean`, `string`; accepting other types would make the schema lie, so these
fields refuse them with the usual "not a valid ..." message.
"""

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db import models
from django.db.models import QuerySet
from rest_framework import serializers
from rest_framework.relations import MANY_RELATION_KWARGS

Scope = Callable[[QuerySet, Any], QuerySet]


class StrictCharField(serializers.CharField):
    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictEmailField(serializers.EmailField):
    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictURLField(serializers.URLField):
    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


def whole_number(data: Any) -> int | None:
    """A JSON number that is an integer (JSON Schema counts 5.0 as one), else None."""
    if isinstance(data, float) and data.is_integer():
        return int(data)
    if isinstance(data, int) and not isinstance(data, bool):
        return data
    return None


class StrictIntegerField(serializers.IntegerField):
    def to_internal_value(self, data: Any) -> int:
        number = whole_number(data)
        if number is None:
            self.fail("invalid")
        return super().to_internal_value(number)


class StrictBooleanField(serializers.BooleanField):
    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class StrictChoiceField(serializers.ChoiceField):
    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid_choice", input=data)
        return super().to_internal_value(data)


class StrictManyRelatedField(serializers.ManyRelatedField):
    def to_internal_value(self, data: Any) -> list:
        if not isinstance(data, list):
            self.fail("not_a_list", input_type=type(data).__name__)
        return super().to_internal_value(data)


class StrictRelatedMixin:
    @classmethod
    def many_init(cls, *args: Any, **kwargs: Any) -> StrictManyRelatedField:
        list_kwargs = {"child_relation": cls(*args, **kwargs)}
        for key in kwargs:
            if key in MANY_RELATION_KWARGS:
                list_kwargs[key] = kwargs[key]
        return StrictManyRelatedField(**list_kwargs)


class ReferenceField(StrictRelatedMixin, serializers.PrimaryKeyRelatedField):
    """Another record by id, looked up among the records the acting user may use.

    An unknown or invisible id fails with the code `does_not_exist`, which the error
    handler answers with 404 like any other unknown id.
    """

    default_error_messages = {
        **serializers.PrimaryKeyRelatedField.default_error_messages,
        "does_not_exist": "No {model} with id {pk_value} that you can use.",
    }

    def __init__(self, *, scope: Scope | None = None, **kwargs: Any) -> None:
        self.scope = scope
        super().__init__(**kwargs)

    def get_queryset(self) -> QuerySet:
        queryset = super().get_queryset()
        request = self.context.get("request")
        if self.scope is not None and request is not None:
            queryset = self.scope(queryset, request.user)
        return queryset

    def to_internal_value(self, data: Any) -> models.Model:
        number = whole_number(data)
        if number is None:
            self.fail("incorrect_type", data_type=type(data).__name__)
        data = number
        queryset = self.get_queryset()
        try:
            if not -(2**63) <= data < 2**63:
                raise ObjectDoesNotExist
            return queryset.get(pk=data)
        except ObjectDoesNotExist:
            self.fail("does_not_exist", pk_value=data, model=queryset.model._meta.verbose_name)


class NameReferenceField(StrictRelatedMixin, serializers.SlugRelatedField):
    """A user or group by name (their ids appear nowhere else in the API)."""

    def to_internal_value(self, data: Any) -> models.Model:
        if not isinstance(data, str):
            self.fail("invalid")
        if "\x00" in data:  # names nothing, and PostgreSQL refuses it in a query
            self.fail("does_not_exist", slug_name=self.slug_field, value=data)
        return super().to_internal_value(data)
