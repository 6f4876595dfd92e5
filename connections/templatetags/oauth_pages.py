from django import template

from connections.oauth import flow

register = template.Library()


@register.simple_tag(takes_context=True)
def redirect_url(context: template.Context) -> str:
    """The deployment's absolute Redirect URL (PUBLIC_BASE_URL, else this request's host)."""
    return flow.redirect_url(context.get("request"))
