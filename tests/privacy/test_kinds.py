"""privacy.kinds: each binding kind is one spec that validation, the form, the API,
the views and the worker read."""

import dataclasses

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from privacy import kinds, services
from privacy.api import BindingCreateSerializer
from privacy.forms import BindingForm
from privacy.models import Binding
from tests.factories import BindingFactory
from vendors import IgwClient

A, B = "13800138000", "13900139000"


def test_every_model_kind_has_exactly_one_spec():
    assert [code for code, _ in Binding._meta.get_field("kind").choices] == ["axb", "xa", "cyj"]
    assert kinds.choices()[2] == ("cyj", "Privacy call (cyj)")
    assert kinds.vendors() == ["igw", "cyj"]
    assert [k.code for k in kinds.for_vendor("igw")] == ["axb", "xa"]
    assert kinds.get("zzz") is None


def test_facts_of_the_three_kinds():
    axb, xa, cyj = kinds.KINDS["axb"], kinds.KINDS["xa"], kinds.KINDS["cyj"]
    assert axb.ttl_required and not xa.ttl_required and cyj.ttl_default == 1800
    assert (cyj.ttl_min, cyj.ttl_max) == (60, 3600)
    assert cyj.releases_locally and cyj.held_until_end_time and not cyj.bind_idempotent
    assert not axb.releases_locally and axb.bind_idempotent and xa.bind_idempotent
    assert xa.exclusive_x and xa.calls_linked_by_x and not xa.has_b_number
    assert cyj.vendor_picks_x and cyj.end_time_in_bind and cyj.has_direct
    assert not axb.has_direct and axb.has_display and not cyj.has_display


@pytest.mark.parametrize(
    ("code", "data", "clean"),
    [
        ("axb", {"ttl": 600}, {"ttl": 600, "display": "0,0", "direct": None}),
        ("xa", {}, {"ttl": 0, "display": "0", "direct": None}),
        ("cyj", {}, {"ttl": 1800, "display": "", "direct": 0}),
        ("cyj", {"direct": 2, "ttl": 60}, {"ttl": 60, "display": "", "direct": 2}),
    ],
)
def test_clean_applies_the_kinds_defaults(code, data, clean):
    values, errors = kinds.KINDS[code].clean(data)
    assert errors == {}
    assert values == clean


@pytest.mark.parametrize(
    ("code", "data", "fields"),
    [
        ("axb", {}, {"ttl"}),
        ("axb", {"ttl": 0}, {"ttl"}),
        ("axb", {"ttl": 10, "display": "2,2", "direct": 0}, {"display", "direct"}),
        ("xa", {"ttl": -1, "b_number": B, "ansanu": "1"}, {"ttl", "b_number", "ansanu"}),
        ("xa", {"display": "0,0"}, {"display"}),
        ("cyj", {"ttl": 3601}, {"ttl"}),
        ("cyj", {"direct": 3}, {"direct"}),
        (
            "cyj",
            {"display": "0", "anucode": "1", "ansanu": "1", "user_data": "x"},
            {"display", "anucode", "ansanu", "user_data"},
        ),
    ],
)
def test_clean_refuses_what_the_kind_does_not_take(code, data, fields):
    _, errors = kinds.KINDS[code].clean(data)
    assert set(errors) == fields


def test_record_is_ignored_not_refused_where_it_does_not_apply():
    _, errors = kinds.KINDS["cyj"].clean({"record": True})
    assert errors == {}


@pytest.mark.django_db
@pytest.mark.parametrize("code", ["axb", "xa", "cyj"])
def test_the_form_shows_the_inputs_of_the_spec(code):
    spec = kinds.KINDS[code]
    form = BindingForm(kind=code)
    for name in kinds.OPTIONAL_INPUTS:
        assert (name in form.fields) is spec.takes(name), name
    assert form.fields["ttl"].required is spec.ttl_required
    assert form.fields["ttl"].help_text == spec.ttl_help
    assert form.fields["x_number"].help_text == spec.x_help
    if spec.has_display:
        assert [c for c, _ in form.fields["display"].choices] == [
            c for c, _ in spec.display_choices
        ]


def test_the_api_documents_every_kinds_ttl():
    help_text = str(BindingCreateSerializer().fields["ttl"].help_text)
    for spec in kinds.KINDS.values():
        assert f"{spec.code}: {spec.ttl_help}" in help_text


@pytest.mark.django_db
def test_validation_reads_the_spec(igw_account, monkeypatch):
    """A spec change (here a shorter AXB maximum) is what the service enforces."""
    shorter = dataclasses.replace(kinds.KINDS["axb"], ttl_max=100, ttl_help="at most 100")
    monkeypatch.setattr(IgwClient, "binding_kinds", (shorter, kinds.KINDS["xa"]))
    with pytest.raises(ValidationError) as exc:
        services.binding_create(
            kind="axb", vendor_account=igw_account, a_number=A, b_number=B, ttl=101
        )
    assert exc.value.message_dict == {"ttl": ["at most 100"]}


@pytest.mark.django_db
@pytest.mark.parametrize("code", ["axb", "cyj"])
def test_release_confirmation_is_the_specs(operator_client, igw_account, cyj_account, code):
    account = igw_account if code == "axb" else cyj_account
    binding = BindingFactory(vendor_account=account, kind=code, display="")
    page = operator_client.get(reverse("privacy:binding_release", args=[binding.pk]))
    assert kinds.KINDS[code].release_confirmation in page.content.decode()


@pytest.mark.django_db
def test_detail_page_shows_the_fields_of_the_kind(operator_client, igw_account, cyj_account):
    cyj = BindingFactory(vendor_account=cyj_account, kind="cyj", display="", direct=1)
    xa = BindingFactory(vendor_account=igw_account, kind="xa", display="0", b_number="")
    cyj_page = operator_client.get(reverse("privacy:binding_detail", args=[cyj.pk]))
    xa_page = operator_client.get(reverse("privacy:binding_detail", args=[xa.pk]))
    cyj_html, xa_html = cyj_page.content.decode(), xa_page.content.decode()
    assert "Direction" in cyj_html and "reqid" not in cyj_html and "Display" not in cyj_html
    assert "B number" in cyj_html
    assert "B number" not in xa_html and "reqid" in xa_html and "Display" in xa_html


@pytest.mark.django_db
def test_the_list_offers_a_new_button_per_kind(operator_client):
    html = operator_client.get(reverse("privacy:binding_list")).content.decode()
    for spec in kinds.KINDS.values():
        url = reverse("privacy:binding_create", kwargs={"kind": spec.code})
        assert f'href="{url}">New {spec.name}</a>' in html


def test_specs_are_the_vendor_clients_binding_kinds():
    import vendors

    offered = {(code, s) for code, cls in vendors.REGISTRY.items() for s in cls.binding_kinds}
    assert offered == {(spec.vendor, spec) for spec in kinds.KINDS.values()}


def test_register_refuses_a_kind_code_another_vendor_declares():
    import vendors

    class Clash(IgwClient):
        code = "clash"
        binding_kinds = (dataclasses.replace(kinds.KINDS["axb"], vendor="clash"),)

    with pytest.raises(ValueError, match="binding kind 'axb'"):
        vendors.register(Clash)
    assert "clash" not in vendors.REGISTRY


def test_a_spec_releases_through_the_client_or_locally_never_both():
    with pytest.raises(ValueError, match="releaser"):
        dataclasses.replace(kinds.KINDS["cyj"], releaser=kinds.KINDS["axb"].releaser)
