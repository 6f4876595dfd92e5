"""The API lists' pages: 50 rows, counted only as far as paging.bound_for (see paging.py).

An exact COUNT visits every matching row (at 100,000 connections most of a list's time), so a
list counts at most paging.EXACT_UP_TO rows or ten pages past the one asked for, whichever
is more, and says whether that is all of them (`count_is_exact`). `?count=all` asks for the
exact count. A page shorter than a full one needs no count at all: its rows end the list.
"""

import copy
from typing import Any

from django.db.models import QuerySet
from rest_framework import pagination
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from connections import paging

PAGE = {
    "name": "page",
    "required": False,
    "in": "query",
    "description": "Page number; a page past the last is a 404.",
    "schema": {"type": "integer", "minimum": 1},
}
COUNT = {
    "name": "count",
    "required": False,
    "in": "query",
    "description": "`all`: count every matching row. Without it, `count` is exact up to "
    f"{paging.EXACT_UP_TO} rows or ten pages past this one, whichever is more; beyond, it is "
    "that bound and `count_is_exact` is false.",
    "schema": {"type": "string", "enum": ["all"]},
}
# No database counts this far: a page number beyond it names nothing (and would overflow).
LAST_OFFSET = 2**62


def page_number(request: Request) -> int:
    """?page= as digits (1 when absent); anything else is a 400 naming `page`."""
    value = request.query_params.get("page")
    if value is None:
        return 1
    if not (value.isascii() and value.isdigit() and int(value) >= 1):
        raise ValidationError({"page": ["A page number (1, 2, ...)."]})
    return int(value)


def wants_exact(request: Request) -> bool:
    """?count=all; any other value is a 400 naming `count`."""
    if "count" in request.query_params and not paging.wants_exact(request.query_params):
        raise ValidationError({"count": ["Only count=all (the exact count), or leave it out."]})
    return paging.wants_exact(request.query_params)


class Pagination(pagination.PageNumberPagination):
    """Pages of `page_size` rows with a bounded count (count_is_exact says which)."""

    page_size = 50
    invalid_page_message = "Invalid page."

    def paginate_queryset(self, queryset: QuerySet, request: Request, view: Any = None) -> Any:
        """The page's rows, unread (a slice of `queryset`): the serializer reads them."""
        self.request = request
        self.number = page_number(request)
        self.exact = wants_exact(request)
        self.offset = (self.number - 1) * self.page_size
        if self.offset >= LAST_OFFSET:
            raise NotFound(self.invalid_page_message)
        self.queryset = queryset
        return queryset[self.offset : self.offset + self.page_size]

    def counted(self, rows: int) -> paging.Count:
        """How many rows match, knowing the page holds `rows` of them."""
        if rows == 0 and self.offset > 0:
            raise NotFound(self.invalid_page_message)
        if rows < self.page_size:
            return paging.Count(self.offset + rows, True)  # the page ends the list
        bound = paging.bound_for(self.offset, self.page_size)
        return paging.bounded_count(self.queryset, bound, self.exact)

    def get_paginated_response(self, data: list) -> Response:
        counted = self.counted(len(data))
        url = self.request.build_absolute_uri()
        more = not counted.exact or self.offset + len(data) < counted.value
        if self.number == 1:
            previous = None
        elif self.number == 2:
            previous = remove_query_param(url, "page")
        else:
            previous = replace_query_param(url, "page", self.number - 1)
        return Response(
            {
                "count": counted.value,
                "count_is_exact": counted.exact,
                "next": replace_query_param(url, "page", self.number + 1) if more else None,
                "previous": previous,
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["count", "count_is_exact", "next", "previous", "results"],
            "properties": {
                "count": {
                    "type": "integer",
                    "minimum": 0,
                    "example": 123,
                    "description": "Matching rows: all of them when count_is_exact, else at "
                    f"least this many (the count stops at {paging.EXACT_UP_TO} rows or ten "
                    "pages past this page, whichever is more; ?count=all counts them all).",
                },
                "count_is_exact": {
                    "type": "boolean",
                    "description": "False when more rows match than `count` says.",
                },
                "next": {
                    "type": ["string", "null"],
                    "format": "uri",
                    "description": "The next page, when more rows follow.",
                    "example": "http://api.example.org/accounts/?page=4",
                },
                "previous": {
                    "type": ["string", "null"],
                    "format": "uri",
                    "example": "http://api.example.org/accounts/?page=2",
                },
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [copy.deepcopy(PAGE), copy.deepcopy(COUNT)]
