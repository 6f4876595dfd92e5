from datetime import datetime

from django import template
from django.utils import formats, timezone
from django.utils.html import format_html

register = template.Library()


@register.simple_tag
def cell(record: object, column: object) -> str:
    if column.attr == "business_services":
        return ", ".join(s.name for s in record.business_services.all()) or "—"
    value = getattr(record, column.attr)
    if callable(value):
        value = value()
    if column.attr == "get_status_display":
        badge = {"OK": "success", "Failing": "danger"}.get(value, "secondary")
        return format_html('<span class="badge text-bg-{}">{}</span>', badge, value)
    if isinstance(value, bool):
        return "Yes" if value else ""
    if isinstance(value, datetime):
        return formats.date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")
    return "" if value is None else str(value)


@register.simple_tag
def sort_href(column: object, current: str, querystring: str) -> str:
    key = column.sort
    new = f"-{key}" if current == key else key
    sep = "&" if querystring else ""
    return f"?{querystring}{sep}sort={new}"


@register.simple_tag
def sort_arrow(column: object, current: str) -> str:
    if current == column.sort:
        return "▲"
    if current == f"-{column.sort}":
        return "▼"
    return ""


@register.filter
def detail_value(value: object) -> str:
    """A stage detail for reading: lists joined, long values cut."""
    if isinstance(value, list | tuple | set):
        value = ", ".join(str(v) for v in value)
    text = str(value)
    return text if len(text) <= 200 else text[:199] + "…"
