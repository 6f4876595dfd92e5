"""The pages' list filters, with Business Service taken as a plain id.

On the pages an unknown service is a form error; in the API a filter on an id that
matches nothing is simply an empty page, as for any other filter value.
"""

import django_filters
from django import forms
from django.db.models import QuerySet

from connections import filters


class IdFilter(django_filters.NumberFilter):
    field_class = forms.IntegerField

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
