"""Normalization of a delivery's parsed items into CallRecord / CallEvent rows.

Part of the callbacks app's write API (callbacks/inbox.py runs it inside the
delivery's transaction; see its docstring for the pipeline).  Upserts are
INSERT ... ON CONFLICT DO NOTHING on the unique constraints, then a row lock on
the existing record to merge into it: never read-then-write.

Records and events may arrive in any order and more than once: the first
creates the CallRecord, events only fill fields that are still empty and
never touch a record that has its CDR, and a second CDR for a call is a
duplicate (the first one stands).
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any

from django.db import IntegrityError, transaction

import vendors
from accounts.models import VendorAccount
from callbacks import hotsql, recordings
from callbacks.models import CallEvent, CallRecord, Delivery
from callbacks.text import _json_safe, _number, _text
from privacy import selectors as privacy_selectors

RecStatus = CallRecord.RecordingStatus

_MAX_INT = 2**31 - 1


class Policy:
    """Normalized behaviour that is the same for every vendor.  What differs per
    vendor (signature enforcement, recording source, acknowledgement) is a fact
    of its client class (vendors/base.py), read from there."""

    # Which CallRecord time an event fills while the CDR has not arrived.
    EVENT_TIME_FIELD: dict[str, str] = {
        "call_start": "begin_at",
        "callout": "begin_at",  # huawei: the platform starts dialling, our best begin time
        "alerting": "ring_at",
        "answer": "answer_at",
        "disconnect": "release_at",
    }


# --------------------------------------------------------------------- normalize


def _validate_items(items: list[vendors.CallRecordData | vendors.CallEventData]) -> None:
    """What the parsers accept but our columns cannot hold is invalid input too."""
    if not items:
        raise vendors.InvalidPayload("the delivery holds no record or event")
    for item in items:
        call_id = _text(item.call_id)
        if not call_id.strip():
            raise vendors.InvalidPayload("empty call id")
        if len(call_id) > 256:
            raise vendors.InvalidPayload(f"call id longer than 256 characters ({len(call_id)})")
        if isinstance(item, vendors.CallEventData) and item.kind not in Policy.EVENT_TIME_FIELD:
            raise vendors.InvalidPayload(f"unknown event kind {item.kind!r}")


def _apply(
    account: VendorAccount,
    items: list[vendors.CallRecordData | vendors.CallEventData],
    received_at: datetime,
) -> tuple[bool, list[str]]:
    """Upsert every item; True when anything new was stored."""
    changed = False
    call_ids: list[str] = []
    for item in items:
        if isinstance(item, vendors.CallRecordData):
            changed |= _cdr_apply(account, item, received_at)
        else:
            changed |= _event_apply(account, item, received_at)
        call_ids.append(_text(item.call_id, 256))
    return changed, call_ids


# The unique constraints that make upserts idempotent (models.py).
_RECORD_KEY = ("vendor_account_id", "call_id")  # callbacks_record_account_call
_EVENT_KEY = ("call_record_id", "kind", "occurred_at")  # callbacks_event_unique


def _record_insert(
    account: VendorAccount, call_id: str, fields: dict[str, Any], binding_ref: str, at: datetime
) -> CallRecord | None:
    """INSERT the call's record unless it exists (then None: lock it with
    `_record_locked`).  The binding is looked up in the same statement."""
    record = CallRecord(vendor_account=account, call_id=call_id, **fields)
    x_number = fields.get("x_number", "")
    binding = (
        privacy_selectors.call_binding_params(account.pk, binding_ref, x_number, at)
        if binding_ref or x_number
        else None
    )
    if hotsql.insert_ignore(record, _RECORD_KEY, binding=binding) is None:
        return None
    return record


def _record_locked(account: VendorAccount, call_id: str) -> CallRecord:
    """The existing record of a call, locked until the transaction ends."""
    record = (
        CallRecord.objects.select_for_update()
        .filter(vendor_account=account, call_id=call_id)
        .first()
    )
    if record is None:  # deleted since our INSERT conflicted with it: retry later
        raise IntegrityError(f"call record {call_id!r} vanished while being updated")
    return record


def _binding_id(
    account: VendorAccount, vendor_binding_id: str, x_number: str, at: datetime
) -> int | None:
    """The binding a call belongs to, for merges (new records resolve it inside
    their INSERT): privacy's rule, privacy.selectors.CALL_BINDING_SQL."""
    if not (vendor_binding_id or x_number):
        return None
    return privacy_selectors.binding_for_call(
        account_id=account.pk, vendor_binding_id=vendor_binding_id, x_number=x_number, at=at
    )


def _cdr_fields(account: VendorAccount, data: vendors.CallRecordData, now: datetime) -> dict:
    times = [t for t in (data.begin_at, data.ring_at, data.answer_at, data.release_at) if t]
    call_at = min(times) if times else now
    side = data.release_side if data.release_side in CallRecord.ReleaseSide.values else ""
    return {
        "vendor": account.vendor,
        "vendor_binding_id": _text(data.vendor_binding_id, 64),
        "caller": _number(data.caller),
        "callee": _number(data.callee),
        "x_number": _number(data.x_number),
        "outcome": str(data.outcome.value),
        "raw_code": _text(data.raw_code, 64),
        "raw_text": _text(data.raw_text, 256),
        "begin_at": data.begin_at,
        "ring_at": data.ring_at,
        "answer_at": data.answer_at,
        "release_at": data.release_at,
        "call_at": call_at,
        "duration": min(max(int(data.duration), 0), _MAX_INT),
        "release_side": side,
        "user_data": _text(data.user_data, 256),
        "raw": _json_safe(data.raw),
        "has_cdr": True,
        "cdr_received_at": now,
    }


def _cdr_apply(account: VendorAccount, data: vendors.CallRecordData, now: datetime) -> bool:
    fields = _cdr_fields(account, data, now)
    call_id = _text(data.call_id)
    recording = recordings.recording_plan(account.vendor, data, now)
    record = _record_insert(
        account,
        call_id,
        {**fields, **recording[0]} if recording else fields,
        fields["vendor_binding_id"],
        fields["call_at"],
    )
    if record is None:
        record = _record_locked(account, call_id)
        if record.has_cdr:
            return False  # a repeated CDR: the first one stands
        # The record came from events: the CDR is authoritative, but keep an event's
        # time where the CDR has none (ccp CDRs carry no ring time, for example).
        fields["binding_id"] = _binding_id(
            account, fields["vendor_binding_id"], fields["x_number"], fields["call_at"]
        )
        for name, value in fields.items():
            if value in (None, "") and getattr(record, name) not in (None, ""):
                continue
            if name == "call_at":
                value = min(value, record.call_at)
            setattr(record, name, value)
        if record.recording_status != RecStatus.NONE:
            recording = None
        for name, value in recording[0].items() if recording else ():
            setattr(record, name, value)
        record.save()
    if recording:
        enqueue = partial(recordings.recording_enqueue, record_id=record.pk, countdown=recording[1])
        transaction.on_commit(enqueue)
    return True


def _event_apply(account: VendorAccount, data: vendors.CallEventData, now: datetime) -> bool:
    binding_ref = _text(data.vendor_binding_id, 64)
    partial_fields: dict[str, Any] = {
        "vendor": account.vendor,
        "caller": _number(data.caller),
        "callee": _number(data.callee),
        "x_number": _number(data.x_number),
        "vendor_binding_id": binding_ref,
        "user_data": _text(data.user_data, 256),
        Policy.EVENT_TIME_FIELD[data.kind]: data.occurred_at,
    }
    call_id = _text(data.call_id)
    record = _record_insert(
        account,
        call_id,
        {**partial_fields, "call_at": data.occurred_at},
        binding_ref,
        data.occurred_at,
    )
    created = record is not None
    if record is None:
        record = _record_locked(account, call_id)
    event = CallEvent(
        call_record=record,
        kind=data.kind,
        occurred_at=data.occurred_at,
        caller=partial_fields["caller"],
        callee=partial_fields["callee"],
        x_number=partial_fields["x_number"],
        state_code=_text(data.state_code, 32),
        state_text=_text(data.state_text, 256),
        user_data=partial_fields["user_data"],
        raw=_json_safe(data.raw),
        received_at=now,
    )
    if hotsql.insert_ignore(event, _EVENT_KEY) is None:
        return created  # the same event again
    if not created and not record.has_cdr:
        # Fill only what is still empty: an earlier event or the CDR knows better.
        if record.binding_id is None:
            partial_fields["binding_id"] = _binding_id(
                account, binding_ref, partial_fields["x_number"], data.occurred_at
            )
        updates = [
            name
            for name, value in partial_fields.items()
            if value not in (None, "") and getattr(record, name) in (None, "")
        ]
        for name in updates:
            setattr(record, name, partial_fields[name])
        if data.occurred_at < record.call_at:
            record.call_at = data.occurred_at
            updates.append("call_at")
        if updates:
            record.save(update_fields=[*updates, "updated_at"])
    return True


def apply_delivery(delivery: Delivery, items: list) -> None:
    """Apply a delivery's parsed items; its outcome says whether anything changed."""
    changed, call_ids = _apply(delivery.vendor_account, items, delivery.received_at)
    outcome = Delivery.Outcome.ACCEPTED if changed else Delivery.Outcome.DUPLICATE
    delivery.set_outcome(outcome, call_ids=call_ids)
