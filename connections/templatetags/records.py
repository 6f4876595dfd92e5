from collections.abc import Callable
from datetime import datetime

# The standard library's escape gives the same text as Django's (& < > " ') without its lazy-
# string wrapper: the list escapes every cell with it.
from html import escape as escape_text

from django import template
from django.core.exceptions import FieldDoesNotExist
from django.forms import NullBooleanSelect
from django.utils import formats, timezone
from django.utils.html import escape
from django.utils.safestring import mark_safe

from connections.mail import labels

register = template.Library()


BADGES = {
    "OK": "success",
    "Failing": "danger",
    "Reauthorization needed": "warning",
    "Password needed": "warning",
}
# The console's one date-time format (config/formats) as strftime: Django's formatter is
# called once per date cell otherwise, the most costly part of a list page.
FAST_FORMATS = {"Y-m-d H:i T": "%Y-%m-%d %H:%M"}


def datetime_text(value: datetime) -> str:
    local = timezone.localtime(value)
    wanted = formats.get_format("SHORT_DATETIME_FORMAT")
    fast = FAST_FORMATS.get(wanted)
    if fast is None:
        return formats.date_format(local, "SHORT_DATETIME_FORMAT")
    return f"{local.strftime(fast)} {local.tzname()}"


class Rows:
    """A list page's rows as HTML, escaped, with one reader per column prepared per page.

    The Business Services cell is the `services_text` the list reads with its rows
    (models.ServiceNames: the names by name, joined).
    """

    def __init__(self, model: type, columns: tuple) -> None:
        self.zone = timezone.get_current_timezone()
        self.fast = FAST_FORMATS.get(formats.get_format("SHORT_DATETIME_FORMAT"))
        self.readers = [self.reader(model, column.attr) for column in columns]

    def reader(self, model: type, attr: str) -> Callable[[object], str]:
        if attr == "business_services":
            return self.service_names
        if attr == "get_status_display":
            return lambda record: self.badge(record.get_status_display())
        field = attr[4:-8] if attr.startswith("get_") and attr.endswith("_display") else ""
        if field:
            try:
                flat = model._meta.get_field(field).flatchoices
                choices = {k: escape_text(str(v)) for k, v in flat}
            except FieldDoesNotExist:
                choices = None
            if choices is not None:
                return lambda record: choices.get(getattr(record, field), "")
        return lambda record: self.text(getattr(record, attr))

    @staticmethod
    def service_names(record: object) -> str:
        return escape_text(record.services_text or "") or "—"

    @staticmethod
    def badge(value: str) -> str:
        color = BADGES.get(value, "secondary")
        return f'<span class="badge text-bg-{color}">{escape_text(str(value))}</span>'

    def text(self, value: object) -> str:
        if callable(value):
            value = value()
        if value is None:
            return ""
        if isinstance(value, bool):
            return "Yes" if value else ""
        if isinstance(value, datetime):
            if self.fast is None:
                shown = datetime_text(value)
            else:
                local = value.astimezone(self.zone)
                shown = f"{local.strftime(self.fast)} {local.tzname()}"
            return f'<span class="text-nowrap">{escape_text(shown)}</span>'
        return escape_text(str(value))

    def html(self, record: object, url: str, back: str) -> str:
        """One row: the selection box, the Name linking to the record, then the cells."""
        name = escape_text(record.name)
        cells = "".join(f"<td>{read(record)}</td>" for read in self.readers)
        return (
            f'<tr><td><input class="form-check-input select-row" type="checkbox" name="id" '
            f'value="{record.pk}" form="export-form" aria-label="Select {name}"></td>'
            f'<td><a href="{url}?back={back}">{name}</a></td>{cells}</tr>'
        )


def pager(page: object) -> dict:
    """What the pager shows: the count ("1,000+" when counted only up to a bound, paging.py),
    page numbers around the current one with ellipses, and whether a Last link is needed."""
    paginator = page.paginator
    exact = getattr(paginator, "exact", True)
    ellipsis = paginator.ELLIPSIS
    info = {"exact": exact, "ellipsis": ellipsis, "last_link": False, "last_unnumbered": False}
    info["count"] = f"{paginator.count:,}" if exact else f"{paginator.count:,}+"
    info["pages"] = f"{paginator.num_pages:,}" if exact else f"{paginator.num_pages:,}+"
    if getattr(page, "is_last_unnumbered", False):
        info.update(numbers=[1, ellipsis], last_unnumbered=True)
    elif exact:
        numbers = paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1)
        info["numbers"] = list(numbers)
    else:
        # The pages after the bound are not counted: numbers around this page, then Last.
        numbers = list(range(max(1, page.number - 2), page.number + 3))
        if numbers[0] > 1:
            numbers[:0] = [1, ellipsis] if numbers[0] > 2 else [1]
        info.update(numbers=[*numbers, ellipsis], last_link=True)
    return info


ACTIVE = '<li class="page-item active" aria-current="page"><span class="page-link">{}</span></li>'


@register.simple_tag
def pager_html(page: object, querystring: str, part: str) -> str:
    """The count and the page links under a list (written here: as template tags they cost
    more than the list's rows)."""
    p = pager(page)
    base = f"?{escape_text(querystring)}{'&amp;' if querystring else ''}"
    if p["last_unnumbered"]:
        text = f"the last {len(page)} of {p['count']}"
    else:
        text = f"{p['count']} in all"
        if page.has_other_pages():
            text += f" · page {page.number} of {p['pages']}"
    if not p["exact"]:
        text += (
            f' · <a href="{base}count=all" id="count-all" '
            'title="Counting every row takes longer on a large list">count all</a>'
        )
    if part == "count":
        return mark_safe(f'<span class="text-muted" id="list-count">{text}</span>')  # noqa: S308
    parts = []
    if page.has_other_pages():
        links = []

        def item(href: str, label: str, aria: str = "") -> str:
            label_attr = f' aria-label="{aria}"' if aria else ""
            link = f'<a class="page-link" href="{href}"{label_attr}>{label}</a>'
            return f'<li class="page-item">{link}</li>'

        if page.has_previous():
            links.append(
                item(
                    f"{base}page={page.previous_page_number()}",
                    "&lsaquo; Previous",
                    "Previous page",
                )
            )
        for n in p["numbers"]:
            if n == page.number:
                links.append(ACTIVE.format(n))
            elif n == p["ellipsis"]:
                links.append(
                    f'<li class="page-item disabled"><span class="page-link">{n}</span></li>'
                )
            else:
                links.append(item(f"{base}page={n}", str(n)))
        if page.has_next():
            links.append(
                item(f"{base}page={page.next_page_number()}", "Next &rsaquo;", "Next page")
            )
        if p["last_link"]:
            links.append(item(f"{base}page=last", "Last &raquo;", "Last page"))
        elif p["last_unnumbered"]:
            links.append(ACTIVE.format("Last"))
        parts.append(
            '<nav aria-label="Pages"><ul class="pagination pagination-sm flex-wrap mb-0">'
            + "".join(links)
            + "</ul></nav>"
        )
    return mark_safe("".join(parts))  # noqa: S308 - numbers, fixed text, escaped query


@register.simple_tag
def header_cells(columns: tuple, current: str, querystring: str) -> str:
    """The list's column headers; a sortable one links to its sort (descending when it is the
    current one) and shows the current direction."""
    base = f"?{escape_text(querystring)}{'&amp;' if querystring else ''}"
    cells = []
    for column in columns:
        label = escape_text(str(column.label))
        if not column.sort:
            cells.append(f'<th scope="col">{label}</th>')
            continue
        key = column.sort
        new = f"-{key}" if current == key else key
        arrow = "▲" if current == key else "▼" if current == f"-{key}" else ""
        cells.append(f'<th scope="col"><a href="{base}sort={new}">{label} {arrow}</a></th>')
    return mark_safe("\n".join(cells))  # noqa: S308 - labels and query escaped


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


@register.simple_tag
def select_html(bound: object) -> str:
    """A list filter's <select>, written directly: Django's widget templates cost more than the
    rest of the filters together. The same markup as the widget (name, id, attrs, options)."""
    widget = bound.field.widget
    value = bound.value()
    chosen = {str(v) for v in value} if isinstance(value, list | tuple) else {str(value)}
    if isinstance(widget, NullBooleanSelect):  # its values are "unknown", "true", "false"
        chosen = {widget.format_value(value)}
    attrs = {"name": bound.html_name, **widget.attrs, "id": bound.auto_id}
    opening = " ".join(f'{k}="{escape(v)}"' for k, v in attrs.items() if v not in (None, False))
    options = "".join(
        f'<option value="{escape(v)}"{" selected" if str(v) in chosen else ""}>'
        f"{escape(label)}</option>"
        for v, label in ((getattr(v, "value", v), label) for v, label in widget.choices)
    )
    return mark_safe(f"<select {opening}>{options}</select>")  # noqa: S308 - escaped above
