"""Sub-accounts: create pending → active/failed through the task, recovery by name,
sync (adds, updates, marks gone, pages), the usable selector. Vendor over real HTTP
(the sandbox); a vendor is mocked only to inject a network fault."""

from unittest import mock

import pytest
from django.core.exceptions import ValidationError

from accounts import selectors, services
from accounts.models import SubAccount
from sandbox.models import SandboxRequest, SandboxSubAccount
from sandbox.services import sub_account_create as sandbox_sub_account_create
from tests.factories import SubAccountFactory, VendorAccountFactory
from vendors import NetworkError


def test_create_is_pending_then_active_with_the_vendors_secrets(ccp_account, ccp_sandbox):
    # Tasks run eagerly here: the row is pending when written, active once the task ran.
    with mock.patch("accounts.tasks.sub_account_create_at_vendor.delay") as delay:
        sub = services.sub_account_create(vendor_account=ccp_account, friendly_name=" shop-1 ")
    assert (sub.state, sub.sub_account_sid, sub.friendly_name) == ("pending", "", "shop-1")
    delay.assert_called_once_with(sub.pk)

    services.sub_account_create_at_vendor(sub_account_id=sub.pk)
    sub.refresh_from_db()
    at_vendor = SandboxSubAccount.objects.get(account=ccp_sandbox)
    assert sub.state == "active" and sub.sub_account_sid == at_vendor.sub_account_sid
    assert (sub.sub_token, sub.voip_password) == (at_vendor.sub_token, at_vendor.voip_password)
    assert (sub.voip_account, sub.type, sub.status) == (at_vendor.voip_account, "1", "1")
    assert sub.attempts == 1 and sub.seen_at and sub.vendor_created_at
    # Encrypted at rest: the column holds no plain token.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT sub_token FROM accounts_subaccount WHERE id = %s", [sub.pk])
        assert at_vendor.sub_token not in cursor.fetchone()[0]


def test_vendor_refusal_fails_the_row_with_code_and_text(ccp_account):
    ccp_account.secret = "not-the-token"
    ccp_account.save()
    sub = services.sub_account_create(vendor_account=ccp_account, friendly_name="shop-2")
    sub.refresh_from_db()
    assert (sub.state, sub.failure_code) == ("failed", "111109")
    assert sub.failure_text  # the vendor's statusMsg, verbatim
    assert "sig" in sub.failure_text_en.lower()
    assert sub.sub_account_sid == ""


def test_network_error_after_the_create_is_resolved_by_name(ccp_account, ccp_sandbox):
    """The create reached the vendor but the answer was lost: QuerySubAccountByName finds it."""
    from vendors.ccp import CcpClient

    real_create = CcpClient.create_sub_account

    def create_then_lose_the_answer(self, name):
        real_create(self, name)
        raise NetworkError("ccp", "", "connection reset")

    with mock.patch.object(CcpClient, "create_sub_account", create_then_lose_the_answer):
        sub = services.sub_account_create(vendor_account=ccp_account, friendly_name="shop-3")
    sub.refresh_from_db()
    assert sub.state == "active"
    assert sub.sub_account_sid == SandboxSubAccount.objects.get(account=ccp_sandbox).sub_account_sid


def test_network_error_with_nothing_at_the_vendor_fails(ccp_account):
    from vendors.ccp import CcpClient

    boom = NetworkError("ccp", "", "connection refused")
    with mock.patch.object(CcpClient, "create_sub_account", side_effect=boom):
        sub = services.sub_account_create(vendor_account=ccp_account, friendly_name="shop-4")
    sub.refresh_from_db()
    assert (sub.state, sub.failure_text) == ("failed", "connection refused")


def test_a_redelivered_task_looks_the_name_up_instead_of_creating_twice(ccp_account, ccp_sandbox):
    with mock.patch("accounts.tasks.sub_account_create_at_vendor.delay"):
        sub = services.sub_account_create(vendor_account=ccp_account, friendly_name="shop-5")
    # A first attempt started, made the sub-account, and its worker died before writing.
    SubAccount.objects.filter(pk=sub.pk).update(attempts=1)
    made = sandbox_sub_account_create(account=ccp_sandbox, friendly_name="shop-5")
    services.sub_account_create_at_vendor(sub_account_id=sub.pk)
    sub.refresh_from_db()
    assert (sub.state, sub.sub_account_sid) == ("active", made.sub_account_sid)
    assert SandboxSubAccount.objects.filter(account=ccp_sandbox).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("vendor", "enabled", "name", "field", "message"),
    [
        ("igw", True, "x", "vendor_account", "igw accounts have no sub-accounts."),
        ("ccp", False, "x", "vendor_account", "The account is disabled"),
        ("ccp", True, "  ", "friendly_name", "Give the sub-account a name."),
        ("ccp", True, "x" * 101, "friendly_name", "At most 100 characters."),
        ("ccp", True, "a\x00b", "friendly_name", "printable"),
    ],
)
def test_create_refusals_are_field_errors_and_write_nothing(vendor, enabled, name, field, message):
    account = VendorAccountFactory(vendor=vendor, enabled=enabled)
    with pytest.raises(ValidationError) as caught:
        services.sub_account_create(vendor_account=account, friendly_name=name)
    assert message in " ".join(caught.value.message_dict[field])
    assert not SubAccount.objects.exists()


@pytest.mark.django_db
def test_one_live_sub_account_per_name():
    account = VendorAccountFactory(vendor="ccp")
    SubAccountFactory(vendor_account=account, friendly_name="shop", state="active")
    with pytest.raises(ValidationError, match="already has a sub-account named"):
        services.sub_account_create(vendor_account=account, friendly_name="shop")
    SubAccountFactory(
        vendor_account=account, friendly_name="old", state="failed", sub_account_sid=""
    )
    with mock.patch("accounts.tasks.sub_account_create_at_vendor.delay"):
        assert services.sub_account_create(vendor_account=account, friendly_name="old").pk


# --------------------------------------------------------------------------- sync


def test_sync_adds_updates_and_marks_gone_over_several_pages(ccp_account, ccp_sandbox):
    made = [
        sandbox_sub_account_create(account=ccp_sandbox, friendly_name=f"v{i}") for i in range(5)
    ]
    known = SubAccountFactory(
        vendor_account=ccp_account,
        sub_account_sid=made[0].sub_account_sid,
        friendly_name="v0",
        status="1",
        type="",
        state="active",
    )
    vanished = SubAccountFactory(vendor_account=ccp_account, state="active")
    pending = SubAccountFactory(
        vendor_account=ccp_account, sub_account_sid="", friendly_name="v4", state="pending"
    )
    SandboxSubAccount.objects.filter(pk=made[1].pk).update(status="0")
    SandboxRequest.objects.all().delete()

    result = services.sub_accounts_sync(vendor_account=ccp_account, page_size=2)

    # 5 listed at 2 a page: pages of 2, 2 and 1 (the short one ends the loop).
    pages = SandboxRequest.objects.filter(path__endswith="/GetSubAccounts")
    assert pages.count() == 3
    assert (result.listed, result.added, result.updated, result.gone) == (5, 3, 2, 1)
    assert "5: 3 added, 2 updated, 1 no longer listed" in str(result)
    known.refresh_from_db()
    assert (known.type, known.state) == ("1", "active")  # the vendor's type is kept
    assert SubAccount.objects.get(sub_account_sid=made[1].sub_account_sid).status == "0"
    vanished.refresh_from_db()
    assert vanished.state == "gone"  # kept, never deleted
    pending.refresh_from_db()  # the vendor had made it: adopted, not added twice
    assert (pending.state, pending.sub_account_sid) == ("active", made[4].sub_account_sid)
    added = SubAccount.objects.get(sub_account_sid=made[2].sub_account_sid)
    assert added.sub_token == made[2].sub_token and added.friendly_name == "v2"
    ccp_account.refresh_from_db()
    assert ccp_account.sub_accounts_synced_at and ccp_account.sub_accounts_sync_error == ""

    again = services.sub_accounts_sync(vendor_account=ccp_account, page_size=2)
    assert (again.added, again.updated, again.gone) == (0, 0, 0)


def test_sync_of_an_exact_multiple_of_the_page_size_reads_one_empty_page(ccp_account, ccp_sandbox):
    for i in range(4):
        sandbox_sub_account_create(account=ccp_sandbox, friendly_name=f"e{i}")
    SandboxRequest.objects.all().delete()
    assert services.sub_accounts_sync(vendor_account=ccp_account, page_size=2).added == 4
    assert SandboxRequest.objects.filter(path__endswith="/GetSubAccounts").count() == 3


def test_a_refused_sync_changes_nothing_and_says_why(ccp_account):
    sub = SubAccountFactory(vendor_account=ccp_account, state="active")
    ccp_account.secret = "wrong"
    ccp_account.save()
    result = services.sub_accounts_sync(vendor_account=ccp_account)
    assert "111109" in result.error
    sub.refresh_from_db()
    assert sub.state == "active"
    ccp_account.refresh_from_db()
    assert "111109" in ccp_account.sub_accounts_sync_error


@pytest.mark.django_db
def test_sync_all_queues_only_enabled_accounts_with_sub_accounts(
    django_capture_on_commit_callbacks,
):
    ccp = VendorAccountFactory(vendor="ccp")
    VendorAccountFactory(vendor="ccp", enabled=False)
    VendorAccountFactory(vendor="igw")
    with (
        mock.patch("accounts.tasks.sub_accounts_sync.delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert services.sub_accounts_sync_all() == 1
    delay.assert_called_once_with(ccp.pk)


@pytest.mark.django_db
def test_usable_sub_accounts_are_the_active_ones_of_an_enabled_account():
    account = VendorAccountFactory(vendor="ccp")
    first = SubAccountFactory(vendor_account=account, state="active")
    second = SubAccountFactory(vendor_account=account, state="active")
    for state in ("pending", "failed", "gone"):
        SubAccountFactory(vendor_account=account, state=state)
    SubAccountFactory(state="active")  # another account's
    assert list(selectors.sub_accounts_usable(vendor_account=account)) == [first, second]
    account.enabled = False
    assert not selectors.sub_accounts_usable(vendor_account=account).exists()


@pytest.mark.django_db
def test_the_daily_sync_is_a_beat_job_of_a_registered_task(django_capture_on_commit_callbacks):
    from celery.schedules import crontab

    from ccp_console.celery import app

    entry = app.conf.beat_schedule["accounts-sync-sub-accounts"]
    schedule = entry["schedule"]
    assert isinstance(schedule, crontab)
    assert (schedule.hour, schedule.minute, len(schedule.day_of_week)) == ({3}, {20}, 7)
    ccp = VendorAccountFactory(vendor="ccp")
    with (
        mock.patch("accounts.tasks.sub_accounts_sync.delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert app.tasks[entry["task"]].apply().get() == 1  # the name resolves to the job
    delay.assert_called_once_with(ccp.pk)


def test_sync_sends_a_lost_create_again(ccp_account, ccp_sandbox):
    from datetime import timedelta

    from django.utils import timezone

    with mock.patch("accounts.tasks.sub_account_create_at_vendor.delay"):  # the lost message
        lost = services.sub_account_create(vendor_account=ccp_account, friendly_name="lost")
    fresh = SubAccountFactory(
        vendor_account=ccp_account, sub_account_sid="", friendly_name="fresh", state="pending"
    )
    SubAccount.objects.filter(pk=lost.pk).update(updated_at=timezone.now() - timedelta(hours=1))
    result = services.sub_accounts_sync(vendor_account=ccp_account)
    assert result.retried == 1 and "1 lost create(s) sent again" in str(result)
    lost.refresh_from_db()
    fresh.refresh_from_db()
    assert lost.state == "active" and lost.sub_account_sid  # the task ran again (eagerly)
    assert fresh.state == "pending"  # recent: its task may still be on its way
    assert SandboxSubAccount.objects.filter(account=ccp_sandbox).count() == 1


def test_a_success_answer_without_a_sid_fails_the_row(ccp_account):
    from vendors.ccp import CcpClient
    from vendors.types import SubAccountData

    hollow = SubAccountData("", "tok", "", "", "shop-6", "1")
    with mock.patch.object(CcpClient, "create_sub_account", return_value=hollow):
        sub = services.sub_account_create(vendor_account=ccp_account, friendly_name="shop-6")
    sub.refresh_from_db()
    assert (sub.state, sub.failure_code, sub.sub_token) == ("failed", "ResponseError", "")
    assert "without a subAccountSid" in sub.failure_text_en
