"""The sandbox admin: what the simulated vendor did is read-only; an account's vendor is fixed."""

import pytest
from django.urls import reverse

from sandbox.models import SandboxAccount, SandboxBinding

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, administrator):
    client.force_login(administrator)
    return client


def test_sandbox_binding_is_view_only(admin_client):
    account = SandboxAccount.objects.create(vendor="igw", account_id="dev1", secret="k")
    binding = SandboxBinding.objects.create(
        account=account, kind="axb", x_number="+8617000000001", a_number="+8613800138000"
    )
    url = reverse("admin:sandbox_sandboxbinding_change", args=[binding.pk])
    assert admin_client.get(url).status_code == 200
    response = admin_client.post(url, {"x_number": "not-a-number<b>", "account": account.pk})
    assert response.status_code == 403
    binding.refresh_from_db()
    assert binding.x_number == "+8617000000001"
    assert admin_client.get(reverse("admin:sandbox_sandboxbinding_add")).status_code == 403


def test_sandbox_account_vendor_is_read_only(admin_client):
    account = SandboxAccount.objects.create(vendor="igw", account_id="dev1", secret="k")
    url = reverse("admin:sandbox_sandboxaccount_change", args=[account.pk])
    form = admin_client.get(url).context["adminform"].form
    assert "vendor" not in form.fields
    assert "account_id" not in form.fields
    assert "secret" not in form.fields
