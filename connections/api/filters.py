"""The pages' list filters, as the API takes them.

Business Service is a plain id: on the pages an unknown service is a form error; in the
API a filter on an id that matches nothing is an empty page, as for any other value.
A filter given empty (`?status=`) is refused rather than silently ignored.
"""

import datetime
import re
from typing import Any

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import serializers
from rest_framework.request import Request

from connections import filters


class DigitsField(forms.IntegerField):
    """An integer written as digits only: " 5" or "5.0" are not ids."""

    def to_python(self, value: str | None) -> int | None:
        if value not in self.empty_values and not re.fullmatch(r"-?[0-9]+", str(value)):
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)


class UtcDateTimeField(django_filters.fields.IsoDateTimeField):
    """An ISO 8601 time, compared in UTC: PostgreSQL refuses offsets beyond +-15:59, which
    Python accepts, and a time whose UTC form leaves the calendar names no moment."""

    def to_python(self, value: object) -> datetime.datetime | None:
        parsed = super().to_python(value)
        if parsed is None:
            return None
        try:
            return parsed.astimezone(datetime.UTC)
        except OverflowError:
            raise ValidationError("Enter a date and time within years 1 to 9999.") from None


class UtcDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcDateTimeField


class IdFilter(django_filters.NumberFilter):
    field_class = DigitsField

    def filter(self, queryset: QuerySet, value: int | None) -> QuerySet:
        # Ids are 64-bit: a larger number matches nothing (and would overflow the query).
        if value is not None and not -(2**63) <= value < 2**63:
            return queryset.none()
        return super().filter(queryset, value)


def service_filter() -> IdFilter:
    return IdFilter(field_name="business_services", label="Business Service id")


class EmailConnectionFilter(filters.EmailConnectionFilter):
    business_services = service_filter()


class EmailTemplateFilter(filters.EmailTemplateFilter):
    business_services = service_filter()


class OAuthClientFilter(filters.OAuthClientFilter):
    business_services = service_filter()


class FilterBackend(DjangoFilterBackend):
    def filter_queryset(self, request: Request, queryset: QuerySet, view: Any) -> QuerySet:
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is not None and not any(
            param.startswith(name)  # a range filter's parameters are name_min, name_after, ...
            for param in request.query_params
            for name in filterset_class.base_filters
        ):
            return queryset  # no filter asked for: building the filter form changes nothing
        if filterset_class is not None:
            empty = [
                name
                for name in filterset_class.base_filters
                if name in request.query_params and not request.query_params[name].strip()
            ]
            if empty:
                raise serializers.ValidationError(
                    {name: ["Give a value, or leave the parameter out."] for name in empty}
                )
        return super().filter_queryset(request, queryset, view)
