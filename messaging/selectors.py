"""Reads for messaging: filtered lists of sends (messages, two-way calls, voice codes),
one send with its parts, the accounts and sub-accounts each kind may use, and what
the vendor called back for a call.

What came back attaches by the vendor's call id, not by a foreign key: the call
events and CDR (callbacks.CallRecord / CallEvent) of a two-way call or voice code are
the ones with the send's vendor account and `call_id` = its callSid (two-way call) or
sessionId (voice code). Whichever arrives first, the callback or the vendor's answer
to our request, the join finds them, and the callbacks app's ingest needs no change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from accounts.models import SubAccount, VendorAccount
from callbacks.models import CallEvent, CallRecord
from core import filters as core_filters
from messaging import limits, sending
from messaging.filters import MessageFilter, TwoWayCallFilter, VoiceCodeFilter
from messaging.models import Message, MessageRecipient, Send, SendPolicy, TwoWayCall, VoiceCode
from vendors import CallOutcome

# The capabilities whose sends count against an account's limits.
SEND_CAPABILITIES = ("supports_sms", "supports_voice_codes")


def message_list(*, filters: Mapping[str, Any] | None = None, user=None) -> QuerySet[Message]:
    """Messages matching `filters` (messaging.filters.MessageFilter); raises
    ValidationError naming any unusable filter."""
    first = MessageRecipient.objects.filter(message=OuterRef("pk")).order_by("batch", "id")
    return core_filters.apply(
        MessageFilter,
        filters=filters,
        queryset=Message.objects.select_related("vendor_account").annotate(
            first_number=Subquery(first.values("number")[:1])
        ),
        user=user,
    )


def message_get(*, pk: int) -> Message:
    return Message.objects.select_related("vendor_account", "sub_account", "created_by").get(pk=pk)


def message_recipients(*, message: Message) -> QuerySet[MessageRecipient]:
    return message.recipients.order_by("batch", "id")


def sms_accounts() -> QuerySet[VendorAccount]:
    """Enabled accounts whose vendor sends SMS: the send forms' choices."""
    return sending.accounts_offering("supports_sms")


def sms_sub_accounts() -> QuerySet[SubAccount]:
    return SubAccount.objects.filter(vendor_account__in=sms_accounts()).select_related(
        "vendor_account"
    )


def policy_accounts() -> QuerySet[VendorAccount]:
    """Accounts whose vendor sends something messaging counts (SMS, voice codes)."""
    found = VendorAccount.objects.none()
    for capability in SEND_CAPABILITIES:
        found = found | sending.accounts_offering(capability)
    return found.distinct().order_by("name")


def policy_rows() -> list[tuple[VendorAccount, SendPolicy | None, limits.AccountLimits]]:
    """Each such account, its SendPolicy row (None: defaults) and the limits in force."""
    policies = {p.vendor_account_id: p for p in SendPolicy.objects.all()}
    return [
        (account, policies.get(account.pk), limits.limits_for(account))
        for account in policy_accounts()
    ]


# ----------------------------------------------------------------- sub-accounts


def sub_accounts_for_calls(*, accounts) -> QuerySet[SubAccount]:
    """The sub-accounts of `accounts` (accounts or a queryset of them) a two-way call
    may be signed with: those the vendor gave a sid (and token). The one place to
    change the rule: once accounts.SubAccount has its lifecycle state, only the
    active ones."""
    qs = SubAccount.objects.filter(vendor_account__in=accounts).exclude(sub_account_sid="")
    state = getattr(SubAccount, "State", None)
    if state is not None:  # the sub-account lifecycle (pending/active/failed/gone)
        qs = qs.filter(state=state.ACTIVE)
    return qs.order_by("friendly_name", "pk")


def sub_account_for_call(*, account: VendorAccount, sub_account_id: int | None) -> SubAccount:
    """The chosen sub-account if usable, else the account's first usable one.
    Raises SubAccount.DoesNotExist when there is none."""
    usable = sub_accounts_for_calls(accounts=[account])
    if sub_account_id:
        return usable.get(pk=sub_account_id)
    first = usable.first()
    if first is None:
        raise SubAccount.DoesNotExist(f"{account.name} has no usable sub-account")
    return first


# ----------------------------------------------------------------- lists and details


def two_way_call_list(*, filters: Mapping[str, Any] | None = None, user=None) -> QuerySet:
    """Two-way calls matching `filters` (messaging.filters.TwoWayCallFilter);
    raises ValidationError naming an unusable filter."""
    qs = TwoWayCall.objects.select_related("vendor_account", "sub_account", "created_by")
    return core_filters.apply(TwoWayCallFilter, filters=filters, queryset=qs, user=user)


def voice_code_list(*, filters: Mapping[str, Any] | None = None, user=None) -> QuerySet:
    """Voice codes matching `filters` (messaging.filters.VoiceCodeFilter)."""
    qs = VoiceCode.objects.select_related("vendor_account", "created_by")
    return core_filters.apply(VoiceCodeFilter, filters=filters, queryset=qs, user=user)


def two_way_call_get(*, pk: int) -> TwoWayCall:
    return TwoWayCall.objects.select_related("vendor_account", "sub_account", "created_by").get(
        pk=pk
    )


def voice_code_get(*, pk: int) -> VoiceCode:
    return VoiceCode.objects.select_related("vendor_account", "created_by").get(pk=pk)


# ----------------------------------------------------------------- what came back


def vendor_call_id(send: Send) -> str:
    """The vendor's id of the call a send started ("" until the vendor answered)."""
    return getattr(send, "call_sid", "") or getattr(send, "session_id", "")


_CALL_ID_FIELD = {"two_way_call": (TwoWayCall, "call_sid"), "voice_code": (VoiceCode, "session_id")}


def call_records_started_by(kind: str, *, pk: int | None = None) -> Q:
    """Which call records a kind of send started ("two_way_call", "voice_code"), or
    one send's when `pk` is given: the same vendor account and the vendor's call id.
    The call-record filter (callbacks.filters) asks this, so the rule lives here."""
    model, field = _CALL_ID_FIELD[kind]
    if pk is not None:
        send = model.objects.filter(pk=pk).values_list("vendor_account_id", field).first()
        if send is None or not send[1]:
            return Q(pk__in=[])
        return Q(vendor_account_id=send[0], call_id=send[1])
    sends = model.objects.filter(
        vendor_account_id=OuterRef("vendor_account_id"), **{field: OuterRef("call_id")}
    )
    return Q(Exists(sends))


def call_record_for(send: Send) -> CallRecord | None:
    """The CallRecord the vendor's callbacks made for this send, if any yet."""
    call_id = vendor_call_id(send)
    if not call_id:
        return None
    return CallRecord.objects.filter(
        vendor_account_id=send.vendor_account_id, call_id=call_id
    ).first()


def call_events_for(send: Send) -> list[CallEvent]:
    call_id = vendor_call_id(send)
    if not call_id:
        return []
    return list(
        CallEvent.objects.filter(
            call_record__vendor_account_id=send.vendor_account_id, call_record__call_id=call_id
        ).order_by("occurred_at", "id")
    )


@dataclass(frozen=True)
class CallProgress:
    """What the vendor reported of a send's call: its record (CDR when has_cdr), the
    events, the last event's kind, and the outcome in the common vocabulary."""

    record: CallRecord | None
    events: list[CallEvent]
    last_event: str
    outcome: str  # a vendors.CallOutcome value, or "" while the call is under way

    @property
    def has_cdr(self) -> bool:
        return bool(self.record and self.record.has_cdr)


def call_progress(send: Send) -> CallProgress:
    record = call_record_for(send)
    events = call_events_for(send) if record is not None else []
    return CallProgress(
        record=record,
        events=events,
        last_event=events[-1].kind if events else "",
        outcome=outcome_of(record, events),
    )


def outcome_of(record: CallRecord | None, events: list[CallEvent]) -> str:
    """The CDR's outcome when it has come; before it, what the events tell: answered
    once an answer event came, and after a hang-up without one, no answer if it rang,
    else failed (the vendor's own code is on the event). "" while under way."""
    if record is not None and record.has_cdr and record.outcome:
        return record.outcome
    kinds = {event.kind for event in events}
    if CallEvent.Kind.ANSWER in kinds:
        return CallOutcome.ANSWERED
    if CallEvent.Kind.DISCONNECT in kinds:
        rang = CallEvent.Kind.ALERTING in kinds
        return CallOutcome.NO_ANSWER if rang else CallOutcome.FAILED
    return ""


# How long a page keeps asking for a send's callbacks: vendors post the CDR within
# minutes of the call's end; a call lasts at most maxCallTime.
PROGRESS_WINDOW = timedelta(hours=2)


def progress_expected(send: Send, progress: CallProgress, *, now=None) -> bool:
    """Whether more is expected from the vendor soon: the send is not failed, its CDR
    has not come, and it is recent. Pages poll only then."""
    if send.state == Send.State.FAILED or progress.has_cdr:
        return False
    return send.created_at >= (now or timezone.now()) - PROGRESS_WINDOW


# ----------------------------------------------------------------------- dashboard


@dataclass(frozen=True)
class SendCounts:
    """Sends of one kind in a period and in the previous one."""

    sent: int
    failed: int
    previous_sent: int
    previous_failed: int


# Per dashboard kind: the model and the permission that shows it.
SEND_KINDS = {
    "sms": (Message, "messaging.view_message"),
    "voice_codes": (VoiceCode, "messaging.view_voicecode"),
}


def send_counts(
    *, since: datetime, split: datetime, until: datetime, user, vendor_account_id: int | None
) -> dict[str, SendCounts]:
    """SMS (messages) and voice codes created in [split, until), and in the previous
    period [since, split), that the vendor accepted (sent; a message partly sent
    counts as sent) or refused (failed); pending ones are in neither.  Only the kinds
    `user` may view.  One query per kind on the (state, created_at) index."""
    sent, failed = [Send.State.SENT, Send.State.PARTIAL], [Send.State.FAILED]
    now = Q(created_at__gte=split)
    counts = {}
    for kind, (model, perm) in SEND_KINDS.items():
        if not user.has_perm(perm):
            continue
        rows = model.objects.filter(
            state__in=[*sent, *failed], created_at__gte=since, created_at__lt=until
        )
        if vendor_account_id is not None:
            rows = rows.filter(vendor_account_id=vendor_account_id)
        totals = rows.aggregate(
            sent=Count("pk", filter=now & Q(state__in=sent)),
            failed=Count("pk", filter=now & Q(state__in=failed)),
            previous_sent=Count("pk", filter=~now & Q(state__in=sent)),
            previous_failed=Count("pk", filter=~now & Q(state__in=failed)),
        )
        counts[kind] = SendCounts(**totals)
    return counts
