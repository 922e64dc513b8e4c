"""The console template library: the phone tag and the masked_text filter."""

import pytest
from django.template import Context, Template, TemplateSyntaxError

pytestmark = pytest.mark.django_db


def _render(source: str, **context) -> str:
    return Template("{% load console %}" + source).render(Context(context))


def test_masked_text_masks_numbers_for_users_without_full_numbers(staff_user, operator):
    source = "{{ text|masked_text:user }}"
    text = "X 13811110001 <is> not ours"
    assert _render(source, text=text, user=staff_user) == "X 138****0001 &lt;is&gt; not ours"
    assert _render(source, text=text, user=operator) == "X 13811110001 &lt;is&gt; not ours"
    assert _render(source, text=None, user=operator) == ""


def test_masked_text_chains_with_default(staff_user):
    source = '{{ text|masked_text:user|default:"—" }}'
    assert _render(source, text="", user=staff_user) == "—"


def test_masked_text_needs_the_user():
    with pytest.raises(TemplateSyntaxError):
        _render("{{ text|masked_text }}", text="13811110001")


def test_phone_tag(staff_user, operator):
    assert _render("{% phone n %}", n="+8613812340021", user=staff_user) == "138****0021"
    assert _render("{% phone n %}", n="+8613812340021", user=operator) == "13812340021"
