"""The vendor account status history: the beat job, its errors, the account page."""

from datetime import timedelta
from unittest import mock

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from accounts import services, tasks
from accounts.models import AccountStatusCheck
from ccp_console.celery import app
from sandbox.services import ensure_sandbox_account
from tests.factories import VendorAccountFactory


def _sandbox_account(live_server, vendor: str, path: str, **fields):
    account = VendorAccountFactory(
        vendor=vendor, base_url=f"{live_server.url}/sandbox/{path}", **fields
    )
    ensure_sandbox_account(vendor_account=account)
    return account


def test_the_check_is_scheduled_by_beat():
    entry = settings.CELERY_BEAT_SCHEDULE["accounts-check-status"]
    assert entry["task"] == "accounts.tasks.vendor_accounts_check_status_all"
    assert entry["task"] in app.tasks
    assert 60 <= entry["schedule"] <= 86400


@pytest.mark.django_db(transaction=True)
def test_the_job_checks_each_account_with_a_status_api_and_keeps_a_history(live_server):
    igw = _sandbox_account(live_server, "igw", "igw", name="igw-1")
    ccp = _sandbox_account(live_server, "ccp", "ccp/2013-12-26", name="ccp-1", account_id="c" * 32)
    refused = _sandbox_account(live_server, "igw", "igw", name="igw-refused")
    refused.secret = "wrong-key"
    refused.save()
    no_api = VendorAccountFactory(vendor="huawei", name="huawei-1")
    disabled = _sandbox_account(live_server, "igw", "igw", name="igw-off", enabled=False)

    assert tasks.vendor_accounts_check_status_all.delay().get() == 3
    assert tasks.vendor_accounts_check_status_all() == 3  # a second run adds to the history

    assert not AccountStatusCheck.objects.filter(vendor_account__in=[no_api, disabled]).exists()
    for account in (igw, ccp):
        checks = list(account.status_checks.all())
        assert len(checks) == 2
        assert all(c.state == "active" and c.balance is not None and not c.error for c in checks)
    assert igw.status_checks.first().overdraft is not None  # igw reports one (§3.1)
    failed = list(refused.status_checks.all())
    assert len(failed) == 2 and all(c.state == "" and c.balance is None for c in failed)
    assert "1101" in failed[0].error or "401" in failed[0].error
    refused.refresh_from_db()
    assert refused.status_error == failed[0].error  # the account shows the latest


@pytest.mark.django_db(transaction=True)
def test_an_unexpected_failure_is_recorded_and_the_others_still_checked(live_server, caplog):
    broken = _sandbox_account(live_server, "igw", "igw", name="a-broken")
    fine = _sandbox_account(live_server, "igw", "igw", name="b-fine")
    real = services.vendor_account_check_status

    def check(*, account):
        if account.pk == broken.pk:
            raise RuntimeError("token=s3cret in a message")
        return real(account=account)

    with mock.patch.object(services, "vendor_account_check_status", side_effect=check):
        assert services.vendor_accounts_check_status_all() == 2
    error = broken.status_checks.get().error
    assert "RuntimeError" in error and "s3cret" not in error
    assert fine.status_checks.get().state == "active"
    assert "account status check" in caplog.text


@pytest.mark.django_db
def test_history_older_than_the_kept_days_is_dropped():
    account = VendorAccountFactory(vendor="huawei")
    now = timezone.now()
    old = AccountStatusCheck.objects.create(
        vendor_account=account, checked_at=now - timedelta(days=31)
    )
    recent = AccountStatusCheck.objects.create(
        vendor_account=account, checked_at=now - timedelta(days=29)
    )
    services.vendor_accounts_check_status_all(keep_days=30)
    assert list(AccountStatusCheck.objects.all()) == [recent]
    assert not AccountStatusCheck.objects.filter(pk=old.pk).exists()


@pytest.mark.django_db
def test_the_account_page_shows_the_history(client, operator):
    account = VendorAccountFactory(vendor="igw")
    now = timezone.now()
    AccountStatusCheck.objects.create(
        vendor_account=account,
        checked_at=now - timedelta(hours=2),
        state="active",
        balance="12.500",
    )
    AccountStatusCheck.objects.create(
        vendor_account=account, checked_at=now, error="igw 1101: refused for 13812345678"
    )
    client.force_login(operator)
    page = client.get(reverse("accounts:vendor_account_detail", args=[account.pk])).content.decode()
    history = page[page.index('id="status-history"') :]
    assert history.index("refused") < history.index("12.500")  # newest first
    assert "active" in history
