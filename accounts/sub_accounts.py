"""Sub-account use cases: create (a pending row now, the vendor call in a worker)
and sync from the vendor (GetSubAccounts, paged). accounts.services re-exports
them: callers import them from there.

Only accounts whose vendor client declares supports_sub_accounts have them.

Create: the row is written pending at once, with its create in the outbox
(core/outbox.py), and `accounts.tasks.sub_account_create_at_vendor` asks the
vendor; the row becomes active (sid, token, VoIP account; the secrets encrypted)
or failed with the vendor's code and text. The vendor's create has no idempotency
key, so the attempt is counted in a committed row before the call: a redelivered
task (worker killed mid-call) first asks the vendor for the name
(QuerySubAccountByName) and only creates when the vendor does not know it. A
transient error after the request may have reached the vendor is resolved the
same way before the row is failed.

Sync: every page of the vendor's list is read first (a short page ends it); then,
under the account's row lock, listed sub-accounts are added or updated (status,
type, name, VoIP account; a pending or failed row of the same name without a sid
is the one the vendor made, and is adopted), and recorded ones the vendor no
longer lists become `gone` (never deleted). A pending create the vendor does not
list after STUCK_AFTER is rung again (the outbox's dispatcher has normally redone
it long before; a row whose outbox work is done or running ignores the bell). A failed
listing changes no row.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

import vendors
from accounts.models import SubAccount, VendorAccount
from accounts.selectors import supports_sub_accounts, vendor_client
from accounts.tasks import SUB_ACCOUNT_CREATE_TASK, outbox_add, send_on_commit
from core import outbox
from vendors.errors import NotFound, ResponseError, VendorError
from vendors.types import SubAccountData

logger = logging.getLogger(__name__)

# GetSubAccounts' `offset` is 1 to 100 (official SDK); a larger page is refused.
SYNC_PAGE_SIZE = 100
# A listing longer than this many pages is not trusted to be whole: nothing is
# marked gone from it (a vendor that ignores startNo would otherwise loop).
MAX_SYNC_PAGES = 500
# A pending create older than this that the vendor does not list lost its task.
STUCK_AFTER = timedelta(minutes=10)
LIVE = (SubAccount.State.PENDING, SubAccount.State.ACTIVE)
DISABLED_BEFORE_CALL = "The vendor account was disabled before the vendor was asked."
NO_SID = "The vendor answered success without a subAccountSid."


def _check_account(vendor_account: VendorAccount) -> None:
    if not supports_sub_accounts(account=vendor_account):
        raise ValidationError(
            {"vendor_account": f"{vendor_account.vendor} accounts have no sub-accounts."}
        )
    if not vendor_account.enabled:
        raise ValidationError(
            {"vendor_account": "The account is disabled: it makes no vendor calls."}
        )


def _clean_name(friendly_name: str) -> str:
    name = (friendly_name or "").strip()
    if not name:
        raise ValidationError({"friendly_name": "Give the sub-account a name."})
    if len(name) > 100:
        raise ValidationError({"friendly_name": "At most 100 characters."})
    if not name.isprintable():
        raise ValidationError({"friendly_name": "Use printable characters only."})
    return name


# --------------------------------------------------------------------------- create


def sub_account_create(
    *, vendor_account: VendorAccount, friendly_name: str, created_by=None
) -> SubAccount:
    """Write a pending sub-account and enqueue its creation at the vendor.

    Raises ValidationError (field errors, nothing written). One live (pending or
    active) row per name and account: the vendor looks sub-accounts up by name.
    """
    _check_account(vendor_account)
    name = _clean_name(friendly_name)
    with transaction.atomic():
        # The account row lock serializes creates and syncs of one account, so the
        # name check below cannot race a twin request.
        VendorAccount.objects.select_for_update().filter(pk=vendor_account.pk).first()
        taken = SubAccount.objects.filter(
            vendor_account=vendor_account, friendly_name=name, state__in=LIVE
        ).exists()
        if taken:
            raise ValidationError(
                {"friendly_name": f"This account already has a sub-account named {name!r}."}
            )
        sub = SubAccount.objects.create(
            vendor_account=vendor_account, friendly_name=name, created_by=created_by
        )
        outbox_add("sub_account_create_at_vendor", sub.pk)
    return sub


def _start_attempt(sub_account_id: int) -> tuple[SubAccount, bool] | None:
    """(row, redelivered) with the attempt counted and committed; None if nothing to do."""
    with transaction.atomic():
        sub = (
            SubAccount.objects.select_for_update(of=("self",))
            .select_related("vendor_account")
            .filter(pk=sub_account_id)
            .first()
        )
        if sub is None or sub.state != SubAccount.State.PENDING:
            return None
        redelivered = sub.attempts > 0
        sub.attempts += 1
        sub.save(update_fields=["attempts", "updated_at"])
    return sub, redelivered


def _look_up(client: vendors.VendorClient, name: str) -> SubAccountData | None:
    try:
        return client.query_sub_account_by_name(name)
    except NotFound:
        return None


def sub_account_create_at_vendor(*, sub_account_id: int) -> SubAccount | None:
    """The worker's half of a create: ask the vendor, then activate or fail the row."""
    started = _start_attempt(sub_account_id)
    if started is None:
        return None
    sub, redelivered = started
    account = sub.vendor_account
    if not account.enabled:
        refusal = VendorError(account.vendor, "disabled", message_en=DISABLED_BEFORE_CALL)
        return _finish(sub_account_id, error=refusal)
    client = vendor_client(account=account)
    try:
        data = _look_up(client, sub.friendly_name) if redelivered else None
        data = data or client.create_sub_account(sub.friendly_name)
    except VendorError as exc:
        data = None
        if exc.retryable:  # the create may have reached the vendor: ask before failing
            try:
                data = _look_up(client, sub.friendly_name)
            except VendorError:
                logger.info("sub-account %s: look-up after a failed create failed", sub.pk)
        if data is None:
            return _finish(sub_account_id, error=exc)
    return _finish(sub_account_id, data=data)


def _finish(
    sub_account_id: int, *, data: SubAccountData | None = None, error: VendorError | None = None
) -> SubAccount | None:
    """Activate (data) or fail (error) a row that is still pending; a sync may have
    adopted it meanwhile, and then it is left as the sync left it."""
    with transaction.atomic():
        sub = SubAccount.objects.select_for_update().filter(pk=sub_account_id).first()
        # Whatever this block commits settles the create: its outbox row goes with it.
        outbox.done(task=SUB_ACCOUNT_CREATE_TASK, object_id=sub_account_id)
        if sub is None or sub.state != SubAccount.State.PENDING:
            return sub
        if data is not None and not data.sub_account_sid:
            error, data = ResponseError("", "", message_en=NO_SID), None
        if data is not None:
            twin = (
                SubAccount.objects.filter(sub_account_sid=data.sub_account_sid)
                .exclude(pk=sub.pk)
                .first()
            )
            if twin is None:
                _apply(sub, data, timezone.now())
                sub.save()
                return sub
            error = VendorError(
                twin.vendor_account.vendor,
                "duplicate",
                message_en=f"The vendor's sub-account is recorded already, as #{twin.pk}.",
            )
        sub.state = SubAccount.State.FAILED
        sub.failure_code = error.code or type(error).__name__
        sub.failure_text = error.message
        sub.failure_text_en = error.message_en or ("" if error.message else str(error))
        sub.save()
    return sub


def _apply(sub: SubAccount, data: SubAccountData, now) -> bool:
    """Copy what the vendor says onto the row (secrets only when sent); True if it changed."""
    before = (sub.state, sub.status, sub.type, sub.friendly_name, sub.voip_account)
    sub.sub_account_sid = data.sub_account_sid
    sub.state = SubAccount.State.ACTIVE
    # Kept when not sent: the official SDK's list answer carries neither.
    sub.status, sub.type = data.status or sub.status, data.type or sub.type
    sub.friendly_name = (data.friendly_name or sub.friendly_name)[:100]
    sub.voip_account = data.voip_account or sub.voip_account
    if data.sub_token:
        sub.sub_token = data.sub_token
    if data.voip_password:
        sub.voip_password = data.voip_password
    sub.vendor_created_at = data.created_at or sub.vendor_created_at
    sub.failure_code = sub.failure_text = sub.failure_text_en = ""
    sub.seen_at = now
    return before != (sub.state, sub.status, sub.type, sub.friendly_name, sub.voip_account)


# --------------------------------------------------------------------------- sync


@dataclass(frozen=True)
class SyncResult:
    """What a sync did; `error` is the vendor's refusal, in which case nothing changed."""

    listed: int = 0
    added: int = 0
    updated: int = 0
    gone: int = 0
    skipped: int = 0  # listed, but recorded under another vendor account
    retried: int = 0  # pending creates whose task was lost, sent again
    error: str = ""

    def __str__(self) -> str:
        if self.error:
            return f"The vendor did not list its sub-accounts: {self.error}"
        text = (
            f"The vendor lists {self.listed}: {self.added} added, {self.updated} updated, "
            f"{self.gone} no longer listed (marked gone)"
        )
        if self.skipped:
            text += f", {self.skipped} skipped (recorded under another vendor account)"
        if self.retried:
            text += f", {self.retried} lost create(s) sent again"
        return text + "."


def _list_all(client: vendors.VendorClient, page_size: int) -> tuple[dict, bool]:
    """({sid: data}, whole) over every page of the vendor's list."""
    found: dict[str, SubAccountData] = {}
    for page_no in range(MAX_SYNC_PAGES):
        page = client.query_sub_accounts(start=page_no * page_size, count=page_size)
        fresh = [d for d in page if d.sub_account_sid and d.sub_account_sid not in found]
        found.update((d.sub_account_sid, d) for d in fresh)
        if len(page) < page_size:
            return found, True
        if not fresh:  # a full page of repeats: the vendor ignores startNo
            return found, False
    return found, False


def sub_accounts_sync(
    *, vendor_account: VendorAccount, page_size: int = SYNC_PAGE_SIZE
) -> SyncResult:
    """Bring the account's sub-accounts in line with the vendor's list (module docstring).

    Raises ValidationError for an account without sub-accounts or disabled; a
    vendor refusal is kept on the account (sub_accounts_sync_error) and returned.
    """
    _check_account(vendor_account)
    client = vendor_client(account=vendor_account)
    now = timezone.now()
    try:
        listed, whole = _list_all(client, page_size)
    except VendorError as exc:
        VendorAccount.objects.filter(pk=vendor_account.pk).update(
            sub_accounts_synced_at=now, sub_accounts_sync_error=str(exc)
        )
        return SyncResult(error=str(exc))
    with transaction.atomic():
        VendorAccount.objects.select_for_update().filter(pk=vendor_account.pk).first()
        result = _merge(vendor_account, listed, whole, now)
        VendorAccount.objects.filter(pk=vendor_account.pk).update(
            sub_accounts_synced_at=now, sub_accounts_sync_error=""
        )
    return result


def _merge(account: VendorAccount, listed: dict, whole: bool, now) -> SyncResult:
    rows = {
        s.sub_account_sid: s
        for s in SubAccount.objects.filter(vendor_account=account).exclude(sub_account_sid="")
    }
    # Rows without a sid whose create may have succeeded at the vendor after all.
    unmatched: dict[str, SubAccount] = {}
    for row in SubAccount.objects.filter(
        vendor_account=account,
        sub_account_sid="",
        state__in=(SubAccount.State.PENDING, SubAccount.State.FAILED),
    ).order_by("-id"):
        unmatched[row.friendly_name] = row  # newest last wins: the latest attempt
    elsewhere = set(
        SubAccount.objects.filter(sub_account_sid__in=list(listed))
        .exclude(vendor_account=account)
        .values_list("sub_account_sid", flat=True)
    )
    added = updated = 0
    for sid, data in listed.items():
        if sid in elsewhere:
            continue
        row = rows.get(sid) or unmatched.pop(data.friendly_name, None)
        if row is None:
            row = SubAccount(vendor_account=account, friendly_name=data.friendly_name or sid)
            _apply(row, data, now)
            added += 1
        elif _apply(row, data, now):
            updated += 1
        row.save()  # also when unchanged: seen_at says the vendor still lists it
    gone = retried = 0
    if whole:
        # Still pending long after it was asked, and not at the vendor: the task was
        # lost (a broker outage). Sent again; a redelivery looks the name up first.
        stuck = [
            r.pk
            for r in unmatched.values()
            if r.state == SubAccount.State.PENDING and r.updated_at < now - STUCK_AFTER
        ]
        for pk in stuck:
            send_on_commit("sub_account_create_at_vendor", pk)
        retried = len(stuck)
        missing = [
            r.pk
            for sid, r in rows.items()
            if sid not in listed and r.state != SubAccount.State.GONE
        ]
        gone = SubAccount.objects.filter(pk__in=missing).update(
            state=SubAccount.State.GONE, updated_at=now
        )
    return SyncResult(
        listed=len(listed),
        added=added,
        updated=updated,
        gone=gone,
        skipped=len(elsewhere),
        retried=retried,
    )


def sub_accounts_sync_all() -> int:
    """Enqueue a sync of every enabled account that has sub-accounts (the daily beat job)."""
    codes = [code for code, cls in vendors.REGISTRY.items() if cls.supports_sub_accounts]
    ids = list(
        VendorAccount.objects.filter(vendor__in=codes, enabled=True).values_list("pk", flat=True)
    )
    for pk in ids:
        send_on_commit("sub_accounts_sync", pk)
    return len(ids)


def sub_accounts_sync_request(*, vendor_account: VendorAccount) -> None:
    """Ask a worker to sync the account (the page's button and the API action)."""
    _check_account(vendor_account)
    send_on_commit("sub_accounts_sync", vendor_account.pk)
