from django import template

from connections import notifications

register = template.Library()


@register.simple_tag
def system_connection_missing() -> bool:
    """True when nothing can send notifications (the list pages' warning banner)."""
    return not notifications.EmailConnection.objects.filter(system_connection=True).exists()
