"""The main menu, written in Python: seven {% url %} tags and path comparisons cost a list page
more than its rows did (bench/run.py)."""

from django import template
from django.urls import reverse
from django.utils.safestring import mark_safe

register = template.Library()

# (URL name, label, permission needed to see it)
MENU = (
    ("connections:emailconnection-list", "Email Connections", ""),
    ("connections:emailtemplate-list", "Email Templates", ""),
    ("connections:emailtask-list", "Email Tasks", ""),
    ("connections:emailmonitortask-list", "Email Monitor Tasks", ""),
    ("connections:oauthclient-list", "OAuth Clients", ""),
    ("connections:businessservice-list", "Business Services", ""),
    ("connections:notification-log", "Notifications", "connections.view_notification"),
)


@register.simple_tag(takes_context=True)
def main_menu(context: template.Context) -> str:
    """The menu's items, the one whose pages are shown marked active."""
    path = context["request"].path
    user = context["user"]
    items = []
    for name, label, permission in MENU:
        if permission and not user.has_perm(permission):
            continue
        url = reverse(name)
        active = " active" if path.startswith(url) else ""
        link = f'<a class="nav-link{active}" href="{url}">{label}</a>'
        items.append(f'<li class="nav-item">{link}</li>')
    return mark_safe("\n".join(items))  # noqa: S308 - fixed labels and reversed URLs
