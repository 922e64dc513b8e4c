"""Template helpers shared by every page."""

from django import template

from core.phones import display_number

register = template.Library()


@register.simple_tag(takes_context=True)
def phone(context, number: str) -> str:
    """Render a phone number masked unless the user may see it whole."""
    return display_number(number or "", context.get("user"))


@register.simple_tag(takes_context=True)
def query_with(context, **kwargs) -> str:
    """The current query string with some parameters replaced (pagination links)."""
    params = context["request"].GET.copy()
    for key, value in kwargs.items():
        params[key] = value
    return params.urlencode()
