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

from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

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


def _binding_id(account_id: int, vendor_binding_id: str, x_number: str, at: datetime) -> int | None:
    """The binding a call belongs to, for merges (new records resolve it inside
    their INSERT): privacy's rule, privacy.selectors.CALL_BINDING_SQL."""
    if not (vendor_binding_id or x_number):
        return None
    return privacy_selectors.binding_for_call(
        account_id=account_id, vendor_binding_id=vendor_binding_id, x_number=x_number, at=at
    )


def _cdr_time(data: vendors.CallRecordData) -> datetime | None:
    """When the CDR says the call began: its earliest time (None if it has none)."""
    times = [t for t in (data.begin_at, data.ring_at, data.answer_at, data.release_at) if t]
    return min(times) if times else None


def _cdr_fields(account: VendorAccount, data: vendors.CallRecordData, now: datetime) -> dict:
    call_at = _cdr_time(data) or now
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
        fields["binding_id"] = _binding_id(
            account.pk, fields["vendor_binding_id"], fields["x_number"], fields["call_at"]
        )
        recording = _cdr_merge(record, fields, recording)
        record.save()
    if recording:
        enqueue = partial(recordings.recording_enqueue, record_id=record.pk, countdown=recording[1])
        transaction.on_commit(enqueue)
    return True


def _cdr_merge(record: CallRecord, fields: dict, recording: tuple | None) -> tuple | None:
    """Merge a CDR into a record that events made (not saved); the recording plan
    that still applies.  The CDR is authoritative, but an event's value stays
    where the CDR has none (ccp CDRs carry no ring time, for example)."""
    for name, value in fields.items():
        if value in (None, "") and getattr(record, name) not in (None, ""):
            continue
        if name == "call_at":
            value = min(value, record.call_at)
        setattr(record, name, value)
    if record.recording_status != RecStatus.NONE:
        return None
    for name, value in recording[0].items() if recording else ():
        setattr(record, name, value)
    return recording


def _event_partial(account: VendorAccount, data: vendors.CallEventData) -> dict[str, Any]:
    """The record fields an event knows (the ones it may fill)."""
    return {
        "vendor": account.vendor,
        "caller": _number(data.caller),
        "callee": _number(data.callee),
        "x_number": _number(data.x_number),
        "vendor_binding_id": _text(data.vendor_binding_id, 64),
        "user_data": _text(data.user_data, 256),
        Policy.EVENT_TIME_FIELD[data.kind]: data.occurred_at,
    }


def _event_row(
    record: CallRecord, data: vendors.CallEventData, partial_fields: dict, now
) -> CallEvent:
    return CallEvent(
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


def _event_fill(record: CallRecord, partial_fields: dict, occurred_at: datetime) -> list[str]:
    """Fill only what is still empty on a record without its CDR: an earlier event
    or the CDR knows better.  The names changed (not saved)."""
    updates = [
        name
        for name, value in partial_fields.items()
        if value not in (None, "") and getattr(record, name) in (None, "")
    ]
    for name in updates:
        setattr(record, name, partial_fields[name])
    if occurred_at < record.call_at:
        record.call_at = occurred_at
        updates.append("call_at")
    return updates


def _event_apply(account: VendorAccount, data: vendors.CallEventData, now: datetime) -> bool:
    partial_fields = _event_partial(account, data)
    binding_ref = partial_fields["vendor_binding_id"]
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
    if hotsql.insert_ignore(_event_row(record, data, partial_fields, now), _EVENT_KEY) is None:
        return created  # the same event again
    if not created and not record.has_cdr:
        if record.binding_id is None:
            partial_fields["binding_id"] = _binding_id(
                account.pk, binding_ref, partial_fields["x_number"], data.occurred_at
            )
        updates = _event_fill(record, partial_fields, data.occurred_at)
        if updates:
            record.save(update_fields=[*updates, "updated_at"])
    return True


def apply_delivery(delivery: Delivery, items: list) -> None:
    """Apply a delivery's parsed items; its outcome says whether anything changed."""
    changed, call_ids = _apply(delivery.vendor_account, items, delivery.received_at)
    outcome = Delivery.Outcome.ACCEPTED if changed else Delivery.Outcome.DUPLICATE
    delivery.set_outcome(outcome, call_ids=call_ids)


# --------------------------------------------------------------------- batches


class BatchConflict(Exception):
    """Another transaction stored a call of this batch meanwhile: the caller redoes
    the batch delivery by delivery (apply_delivery), which merges under row locks."""


@dataclass
class _Call:
    """One call while a batch is applied: its record (locked, or new and unsaved)."""

    record: CallRecord
    new: bool
    dirty: set[str] = field(default_factory=set)
    recording: int | None = None  # the download's countdown, once the record has an id


@dataclass
class _Batch:
    calls: dict[tuple[int, str], _Call]
    bindings: dict[tuple, int | None]
    events: dict[tuple, tuple[CallEvent, Delivery]] = field(default_factory=dict)
    changed: set[int] = field(default_factory=set)  # ids of deliveries that stored something


def apply_batch(entries: list[tuple[Delivery, list]]) -> None:
    """Apply many deliveries' parsed items with a few multi-row statements, the
    same rules as `apply_delivery` delivery after delivery (in the given order),
    and set each delivery's outcome (not saved).  Run inside a transaction.

    Statements: one SELECT ... FOR UPDATE of the calls already stored, one that
    resolves every binding, one multi-row INSERT of the new records, one UPDATE
    of the merged ones, one multi-row INSERT ... ON CONFLICT DO NOTHING of the
    events.  Raises BatchConflict when a concurrent batch stored one of the calls
    first (roll back and go delivery by delivery).
    """
    batch = _Batch(calls=_locked_calls(entries), bindings=_bindings(entries))
    for delivery, items in entries:
        for item in items:
            if _batch_item(batch, delivery, item):
                batch.changed.add(id(delivery))
    _batch_write(batch)
    for delivery, items in entries:
        changed = id(delivery) in batch.changed
        delivery.set_outcome(
            Delivery.Outcome.ACCEPTED if changed else Delivery.Outcome.DUPLICATE,
            call_ids=[_text(item.call_id, 256) for item in items],
        )


def _locked_calls(entries: list[tuple[Delivery, list]]) -> dict[tuple[int, str], _Call]:
    """The batch's calls already stored, locked (in call id order, so two batches
    that share calls wait for each other instead of deadlocking)."""
    wanted: dict[int, set[str]] = {}
    for delivery, items in entries:
        wanted.setdefault(delivery.vendor_account_id, set()).update(
            _text(item.call_id) for item in items
        )
    calls = {}
    for account_id, call_ids in wanted.items():
        for record in (
            CallRecord.objects.select_for_update()
            .filter(vendor_account_id=account_id, call_id__in=sorted(call_ids))
            .order_by("call_id")
        ):
            calls[(account_id, record.call_id)] = _Call(record, new=False)
    return calls


def _binding_key(account_id: int, item) -> tuple | None:
    ref = _text(item.vendor_binding_id, 64)
    x_number = _number(item.x_number)
    if not (ref or x_number):
        return None
    at = _cdr_time(item) if isinstance(item, vendors.CallRecordData) else item.occurred_at
    return (account_id, ref, x_number, at)


def _bindings(entries: list[tuple[Delivery, list]]) -> dict[tuple, int | None]:
    """Every item's binding (privacy's rule, CALL_BINDING_SQL), in one statement."""
    keys = {
        key
        for delivery, items in entries
        for item in items
        if (key := _binding_key(delivery.vendor_account_id, item)) and key[3] is not None
    }
    return hotsql.bindings_for_calls(list(keys))


def _binding_of(batch: _Batch, account_id: int, fields: dict, at: datetime) -> int | None:
    ref, x_number = fields["vendor_binding_id"], fields["x_number"]
    if not (ref or x_number):
        return None
    key = (account_id, ref, x_number, at)
    if key not in batch.bindings:  # a CDR without times is dated at its arrival
        batch.bindings[key] = _binding_id(account_id, ref, x_number, at)
    return batch.bindings[key]


def _batch_item(batch: _Batch, delivery: Delivery, item) -> bool:
    """Apply one item to the batch's calls in memory; True if it stores something
    new (an event's novelty is known only after its INSERT: see _batch_write)."""
    account = delivery.vendor_account
    key = (account.pk, _text(item.call_id))
    call = batch.calls.get(key)
    now = delivery.received_at
    if isinstance(item, vendors.CallRecordData):
        return _batch_cdr(batch, account, key, call, item, now)
    partial_fields = _event_partial(account, item)
    if call is None:
        fields = {**partial_fields, "call_at": item.occurred_at}
        fields["binding_id"] = _binding_of(batch, account.pk, fields, item.occurred_at)
        call = batch.calls[key] = _Call(
            CallRecord(vendor_account=account, call_id=key[1], **fields), new=True
        )
    elif not call.record.has_cdr:
        if call.record.binding_id is None:
            partial_fields["binding_id"] = _binding_of(
                batch, account.pk, partial_fields, item.occurred_at
            )
        call.dirty.update(_event_fill(call.record, partial_fields, item.occurred_at))
    event_key = (key, item.kind, item.occurred_at)
    if event_key not in batch.events:  # the same event twice in a batch: the first counts
        batch.events[event_key] = (_event_row(call.record, item, partial_fields, now), delivery)
    return False  # an event is new if its INSERT stores it (_batch_events)


def _batch_cdr(batch: _Batch, account, key, call: _Call | None, item, now: datetime) -> bool:
    fields = _cdr_fields(account, item, now)
    fields["binding_id"] = _binding_of(batch, account.pk, fields, fields["call_at"])
    recording = recordings.recording_plan(account.vendor, item, now)
    if call is None:
        record = CallRecord(
            vendor_account=account,
            call_id=key[1],
            **({**fields, **recording[0]} if recording else fields),
        )
        batch.calls[key] = _Call(record, new=True, recording=recording and recording[1])
        return True
    if call.record.has_cdr:
        return False  # a repeated CDR: the first one stands
    recording = _cdr_merge(call.record, fields, recording)
    call.dirty.update(fields, recording[0] if recording else ())
    call.recording = recording[1] if recording else call.recording
    return True


def _batch_write(batch: _Batch) -> None:
    new = [c for c in batch.calls.values() if c.new]
    new.sort(key=lambda c: c.record.call_id)
    rows = hotsql.insert_many([c.record for c in new], _RECORD_KEY, returning=_RECORD_KEY)
    if len(rows) != len(new):
        raise BatchConflict("a call of this batch was stored by another transaction")
    stored = {tuple(row[1:]): row[0] for row in rows}
    for call in new:
        call.record.pk = stored[(call.record.vendor_account_id, call.record.call_id)]
        call.record._state.adding = False
    merged = [c for c in batch.calls.values() if c.dirty and not c.new]
    if merged:
        now = timezone.now()
        for call in merged:
            call.record.updated_at = now
        dirty = set().union(*(c.dirty for c in merged)) | {"updated_at"}
        names = sorted("binding" if name == "binding_id" else name for name in dirty)
        hotsql.update_many([c.record for c in merged], names)
    _batch_events(batch)
    for call in batch.calls.values():
        if call.recording is not None:
            enqueue = partial(
                recordings.recording_enqueue, record_id=call.record.pk, countdown=call.recording
            )
            transaction.on_commit(enqueue)


def _batch_events(batch: _Batch) -> None:
    """INSERT the batch's events (ON CONFLICT DO NOTHING); a delivery whose event
    is new stored something."""
    rows = list(batch.events.values())
    for event, _ in rows:
        event.call_record_id = event.call_record.pk
    stored = {
        row[1:]
        for row in hotsql.insert_many([e for e, _ in rows], _EVENT_KEY, returning=_EVENT_KEY)
    }
    for event, delivery in rows:
        if (event.call_record_id, event.kind, event.occurred_at) in stored:
            batch.changed.add(id(delivery))
