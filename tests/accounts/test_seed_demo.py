"""seed_demo gives every demo account what it needs to call the sandbox and to fetch
its recordings, under the outbound host policy."""

import pytest
from django.core.management import call_command

from accounts.models import VendorAccount
from callbacks.models import CallRecord
from privacy import services as privacy_services
from sandbox import services as sandbox
from sandbox.models import SandboxBinding


@pytest.mark.django_db(transaction=True)
def test_demo_recording_downloads_from_the_sandbox(live_server, settings, tmp_path, capsys):
    settings.PUBLIC_BASE_URL = live_server.url
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.CALLBACKS_RECORDING_DELAY_SECONDS = 0
    call_command("seed_demo")
    assert "OUTBOUND_PRIVATE_ALLOWLIST" not in capsys.readouterr().out  # the host is allowed
    host = live_server.url.split("://", 1)[1]
    for account in VendorAccount.objects.all():
        assert account.extra["recording_hosts"] == [host]

    account = VendorAccount.objects.get(name="Demo IGW")
    binding = privacy_services.binding_create(
        kind="axb",
        vendor_account=account,
        a_number="13800000001",
        b_number="13900000002",
        ttl=600,
        record=True,
    )
    binding.refresh_from_db()
    assert binding.state == "active", binding.failure_text
    sandbox.play_call(binding=SandboxBinding.objects.get(subid=binding.vendor_binding_id))
    record = CallRecord.objects.get()
    assert record.recording_status == "downloaded", record.recording_last_error


@pytest.mark.django_db
def test_seed_demo_says_when_the_sandbox_is_not_allowed(settings, capsys):
    settings.PUBLIC_BASE_URL = "http://127.0.0.1:8000"
    settings.OUTBOUND_PRIVATE_ALLOWLIST = []
    call_command("seed_demo")
    out = capsys.readouterr().out
    assert "add 127.0.0.1:8000 to OUTBOUND_PRIVATE_ALLOWLIST" in out


@pytest.mark.django_db
def test_seed_demo_adds_recording_hosts_to_older_demo_accounts(settings):
    settings.PUBLIC_BASE_URL = "http://127.0.0.1:8000"
    call_command("seed_demo")
    VendorAccount.objects.filter(name="Demo CYJ").update(extra={})
    VendorAccount.objects.filter(name="Demo IGW").update(
        extra={"max_bindings_per_x": 7, "recording_hosts": ["cdn.example.net"]}
    )
    call_command("seed_demo")
    assert VendorAccount.objects.get(name="Demo CYJ").extra == {
        "recording_hosts": ["127.0.0.1:8000"]
    }
    # An operator's own choice is left alone.
    assert VendorAccount.objects.get(name="Demo IGW").extra["recording_hosts"] == [
        "cdn.example.net"
    ]
