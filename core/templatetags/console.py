"""Template helpers shared by every page."""

from django import template

from core.phones import display_number, display_text

register = template.Library()


@register.simple_tag(takes_context=True)
def phone(context, number: str) -> str:
    """Render a phone number masked unless the user may see it whole."""
    return display_number(number or "", context.get("user"))


# is_safe: masking only swaps digits for other digits or "*", so it cannot break
# (or create) markup in text that is already escaped.
@register.filter(is_safe=True)
def masked_text(value, user) -> str:
    """Free text with the numbers in it masked unless `user` may see them whole:
    `{{ binding.failure_text|masked_text:user }}`."""
    if value is None:
        return ""
    return display_text(str(value), user)


@register.simple_tag(takes_context=True)
def query_with(context, **kwargs) -> str:
    """The current query string with some parameters replaced (pagination links)."""
    params = context["request"].GET.copy()
    for key, value in kwargs.items():
        params[key] = value
    return params.urlencode()
