"""Recordings of call records: the download plan a CDR sets, the download task's
work (under the outbound host policy), the sweeper, deletion and playback log.

Part of the callbacks app's write API; callbacks/services.py re-exports the
public functions.  Where a recording comes from is the vendor client's
`recording_source` ("url": the CDR's link; "api": `fetch_recording`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

import vendors
from accounts.selectors import recording_policy, vendor_client
from callbacks import audio, conf, ssrf
from callbacks.models import CallRecord, RecordingPlayback
from callbacks.text import _text

logger = logging.getLogger(__name__)

RecStatus = CallRecord.RecordingStatus


# --------------------------------------------------------------------- recordings


def recording_plan(
    vendor: str, data: vendors.CallRecordData, now: datetime
) -> tuple[dict[str, Any], int] | None:
    """The recording fields a CDR sets on a record whose recording is still
    "none", and the delay before the download task; None if nothing to fetch."""
    client_cls = vendors.REGISTRY.get(vendor)
    source = client_cls.recording_source if client_cls is not None else "url"
    url = _text(data.recording_url, 4000).strip()
    wanted = (
        bool(url)
        if source == "url"
        else (data.outcome == vendors.CallOutcome.ANSWERED and data.duration > 0)
    )
    if not wanted:
        return None
    delay = conf.recording_delay_seconds()
    fields = {
        "recording_url": url,
        "recording_status": RecStatus.PENDING,
        "recording_next_at": now + timedelta(seconds=delay),
    }
    return fields, delay


def recording_enqueue(*, record_id: int, countdown: int = 0) -> bool:
    """Send the download task.  A broker outage is logged, not raised: the row is
    pending in the database and `recording_sweep` sends it again."""
    from callbacks.tasks import recording_download

    try:
        recording_download.apply_async(args=[record_id], countdown=max(countdown, 0), retry=False)
    except Exception:
        logger.warning("callbacks: cannot enqueue recording %s; the sweeper will", record_id)
        return False
    return True


@dataclass(frozen=True)
class DownloadResult:
    status: str  # a RecordingStatus value, or "skipped" when not due / not ours
    retry_in: int | None = None  # seconds, when the task should come back
    error: str = ""


def _recording_url(record: CallRecord) -> str:
    client_cls = vendors.REGISTRY.get(record.vendor)
    if client_cls is not None and client_cls.recording_source == "api":
        client = vendor_client(account=record.vendor_account)
        return client.fetch_recording(call_identifier=record.call_id).url
    return record.recording_url


def recording_download(*, record_id: int, now: datetime | None = None) -> DownloadResult:
    """Download one pending recording into default storage, under the SSRF guard.

    Claims the row first (pending and due → downloading, one UPDATE), so a
    duplicated task message or the sweeper racing a retry does nothing.
    """
    now = now or timezone.now()
    claimed = CallRecord.objects.filter(
        Q(recording_next_at__isnull=True) | Q(recording_next_at__lte=now),
        pk=record_id,
        recording_status=RecStatus.PENDING,
    ).update(
        recording_status=RecStatus.DOWNLOADING,
        recording_claimed_at=now,
        recording_attempts=F("recording_attempts") + 1,
    )
    if not claimed:
        return DownloadResult("skipped")
    record = CallRecord.objects.select_related("vendor_account").get(pk=record_id)
    try:
        url = _recording_url(record)
        fetched = ssrf.fetch(
            url,
            policy=recording_policy(account=record.vendor_account),
            max_bytes=conf.recording_max_bytes(),
            timeout=conf.recording_timeout_seconds(),
            deadline=conf.recording_deadline_seconds(),
        )
    except ssrf.FetchError as exc:
        return _recording_failed(record, str(exc), permanent=exc.permanent, now=now)
    except vendors.VendorError as exc:
        return _recording_failed(record, str(exc), permanent=not exc.retryable, now=now)
    with fetched.file:
        head = fetched.file.read(16)
        fetched.file.seek(0)
        ctype = audio.content_type(fetched.content_type, head)
        if not ctype:
            return _recording_failed(
                record,
                f"not audio: Content-Type {fetched.content_type or '(none)'!r} and the "
                "bytes are no known audio format",
                permanent=True,
                now=now,
            )
        ext = audio.file_extension(ctype, head)
        path = (
            f"recordings/{record.vendor_account_id}/{record.call_at:%Y/%m}/"
            f"{record.pk}-{fetched.sha256[:16]}{ext}"
        )
        name = default_storage.save(path, File(fetched.file, name=path))
    CallRecord.objects.filter(pk=record.pk).update(
        recording_status=RecStatus.DOWNLOADED,
        recording_file=name,
        recording_size=fetched.size,
        recording_sha256=fetched.sha256,
        recording_content_type=ctype,
        recording_last_error="",
        recording_next_at=None,
    )
    return DownloadResult(RecStatus.DOWNLOADED)


def _link_start(record: CallRecord) -> datetime:
    """When the recording link's lifetime started: the end of the call, unless the
    vendor's time is implausible (then when we first heard of the call).  Rows
    stored before times were bounded may hold 9999-12-31, where adding the
    lifetime overflowed and the task crashed and looped."""
    start = record.release_at or record.call_at
    heard = record.cdr_received_at or record.first_seen_at
    if not vendors.EARLIEST_CALL_TIME <= start <= heard + vendors.MAX_CLOCK_AHEAD:
        return heard
    return start


def _recording_failed(
    record: CallRecord, error: str, *, permanent: bool, now: datetime
) -> DownloadResult:
    attempts = record.recording_attempts
    lifetime_end = _link_start(record) + timedelta(hours=conf.recording_link_lifetime_hours())
    retry_in = conf.recording_backoff_seconds(attempts)
    out_of_time = now + timedelta(seconds=retry_in) > lifetime_end
    if permanent:
        status, retry = RecStatus.FAILED, None
    elif attempts >= conf.recording_max_attempts() or out_of_time:
        # A link that answered 403/404/410 until the end is gone, not broken.
        gone = "HTTP 403" in error or "HTTP 404" in error or "HTTP 410" in error
        status, retry = (RecStatus.EXPIRED if gone or out_of_time else RecStatus.FAILED), None
    else:
        status, retry = RecStatus.PENDING, retry_in
    CallRecord.objects.filter(pk=record.pk).update(
        recording_status=status,
        recording_last_error=_text(f"attempt {attempts}: {error}", 2000),
        recording_next_at=now + timedelta(seconds=retry) if retry is not None else None,
    )
    return DownloadResult(status, retry, error)


def recording_sweep(*, now: datetime | None = None) -> list[int]:
    """Re-send downloads whose task message was lost; free claims of dead workers.

    Returns the ids enqueued.  Safe to run any time: the claim in
    `recording_download` makes duplicates harmless.
    """
    now = now or timezone.now()
    stale = now - timedelta(seconds=conf.recording_lease_seconds())
    overdue = now - timedelta(seconds=conf.recording_sweep_grace_seconds())
    # A claim past its lease belongs to a worker that died mid-download: due again at
    # once (a download is a GET; doing it again is harmless).
    CallRecord.objects.filter(
        recording_status=RecStatus.DOWNLOADING, recording_claimed_at__lt=stale
    ).update(recording_status=RecStatus.PENDING, recording_next_at=overdue)
    ids = list(
        CallRecord.objects.filter(
            recording_status=RecStatus.PENDING, recording_next_at__lte=overdue
        )
        .order_by("recording_next_at")
        .values_list("pk", flat=True)[:500]
    )
    for record_id in ids:
        recording_enqueue(record_id=record_id)
    return ids


def call_record_delete(*, record: CallRecord) -> None:
    """Delete a call record (administrators, e.g. one with nonsense times) with its
    events and playback audit; its recording file goes once the delete commits.
    The deliveries it came from stay in the inbox and can be replayed."""
    name = record.recording_file.name if record.recording_file else ""
    with transaction.atomic():
        record.delete()
        if name:
            transaction.on_commit(partial(_delete_file, name))


def _delete_file(name: str) -> None:
    try:
        default_storage.delete(name)
    except OSError:
        logger.warning("callbacks: cannot delete recording file %s", name)


def recording_playback_log(
    *, record: CallRecord, user: Any, byte_range: str, status_code: int
) -> RecordingPlayback:
    return RecordingPlayback.objects.create(
        call_record=record,
        user=user if getattr(user, "pk", None) else None,
        username=getattr(user, "username", "") or "",
        range=_text(byte_range, 100),
        status_code=status_code,
    )
