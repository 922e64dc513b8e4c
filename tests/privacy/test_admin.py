"""The Binding admin is read-only; releasing goes through privacy.services."""

import pytest
from django.urls import reverse

from privacy.models import Binding
from tests.factories import BindingFactory, PrivacyNumberFactory, VendorAccountFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, administrator):
    client.force_login(administrator)
    return client


def test_binding_cannot_be_edited_moved_or_added(admin_client):
    binding = BindingFactory()
    other_account = VendorAccountFactory()
    other_x = PrivacyNumberFactory(vendor_account=other_account)
    url = reverse("admin:privacy_binding_change", args=[binding.pk])
    page = admin_client.get(url)
    assert page.status_code == 200  # viewable
    html = page.content.decode()
    assert binding.a_number not in html  # whole numbers stay on the masked pages
    response = admin_client.post(
        url,
        {
            "x_number": other_x.pk,
            "vendor_account": other_account.pk,
            "a_number": "not-a-number<b>",
            "state": "released",
        },
    )
    assert response.status_code == 403
    fresh = Binding.objects.get(pk=binding.pk)
    assert (fresh.x_number_id, fresh.vendor_account_id, fresh.a_number, fresh.state) == (
        binding.x_number_id,
        binding.vendor_account_id,
        binding.a_number,
        Binding.State.ACTIVE,
    )
    assert admin_client.get(reverse("admin:privacy_binding_add")).status_code == 403
    delete = reverse("admin:privacy_binding_delete", args=[binding.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert Binding.objects.filter(pk=binding.pk).exists()


def test_release_action_uses_the_service(admin_client):
    active = BindingFactory()
    pending = BindingFactory(state=Binding.State.PENDING)
    response = admin_client.post(
        reverse("admin:privacy_binding_changelist"),
        {"action": "release", "_selected_action": [active.pk, pending.pk]},
        follow=True,
    )
    assert response.status_code == 200
    active.refresh_from_db()
    pending.refresh_from_db()
    # The service moves an igw binding to releasing and records the history.
    assert active.state == Binding.State.RELEASING
    assert active.transitions.filter(to_state=Binding.State.RELEASING).exists()
    assert pending.state == Binding.State.PENDING
    assert f"#{pending.pk} skipped" in response.content.decode()
