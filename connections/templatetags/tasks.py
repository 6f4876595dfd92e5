from django import template

from connections.models import EmailTask, Record

register = template.Library()


@register.inclusion_tag("connections/_run_now.html", takes_context=True)
def run_now(context: template.Context, record: Record, part: str = "button") -> dict:
    """Run now on a task's pages, for users with its run permission: the button (in the
    button bar), and for an Email Task the dialog asking for values (outside the bar)."""
    request = context["request"]
    meta = record._meta
    allowed = request.user.has_perm(f"{meta.app_label}.run_{meta.model_name}")
    return {
        "record": record,
        "part": part,
        "allowed": allowed and hasattr(record, "runs"),
        "asks_values": isinstance(record, EmailTask),
        "url_name": f"connections:{meta.model_name}-run",
        "csrf_token": context.get("csrf_token"),
    }
