from datetime import datetime

from django import template
from django.utils import formats, timezone
from django.utils.html import format_html

from connections.mail import labels

register = template.Library()


def cell(record: object, column: object) -> str:
    """A list cell's HTML (the list view computes a page's cells in one go, not a tag each)."""
    if column.attr == "business_services":
        return ", ".join(s.name for s in record.business_services.all()) or "—"
    value = getattr(record, column.attr)
    if callable(value):
        value = value()
    if column.attr == "get_status_display":
        badge = {
            "OK": "success",
            "Failing": "danger",
            "Reauthorization needed": "warning",
            "Password needed": "warning",
        }.get(value, "secondary")
        return format_html('<span class="badge text-bg-{}">{}</span>', badge, value)
    if isinstance(value, bool):
        return "Yes" if value else ""
    if isinstance(value, datetime):
        text = formats.date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")
        return format_html('<span class="text-nowrap">{}</span>', text)
    return "" if value is None else str(value)


@register.simple_tag
def page_numbers(page: object) -> list:
    """Page numbers around the current one, with Paginator.ELLIPSIS for the gaps."""
    return list(page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1))


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
    """A stage detail for reading: lists joined, Yes/No, long values cut."""
    return labels.readable(value)


@register.filter
def stage_label(name: str) -> str:
    """A Test report stage in words: "mail_from" is "MAIL FROM"."""
    return labels.stage(name)


@register.filter
def stage_details(stage: object) -> list[tuple[str, str]]:
    """A Test report stage's details as (label, readable value), empty ones left out."""
    return labels.details(stage.name, stage.detail, stage.reply)
