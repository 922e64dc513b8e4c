"""CSV export of call records: the rows, the streamed download and the background file.

One filter set (callbacks.filters.CallRecordFilter, through selectors.call_record_list)
decides the rows, as on the list page. Every export is audited by a CallRecordExport
row. Up to `conf.export_background_rows()` rows stream straight into the response;
above that a Celery task writes a file into the default storage, reporting its
progress on the row, and the file is deleted `conf.export_file_hours()` later by beat.

Memory stays flat whatever the total: rows are read in keyset batches on (call_at, id),
each a query of its own that starts after the last row of the previous one. No
server-side cursor (a named cursor needs one transaction held open for the whole
export, which PgBouncer's transaction mode cannot give) and no OFFSET (slower with
every page).

Excel-friendly: UTF-8 with a BOM, CRLF line ends, cells a spreadsheet would read as a
formula defused. Numbers are shown as the user may see them (core.phones), times in
TIME_ZONE with their offset.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import secrets
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any

from django.core.files import File
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from callbacks import conf, selectors
from callbacks.filters import CallRecordFilter
from callbacks.models import CallRecord, CallRecordExport
from core.phones import mask_numbers_in_text, may_see_full_numbers, number_display, text_display

logger = logging.getLogger(__name__)

Status = CallRecordExport.Status

CSV_COLUMNS = (
    "id",
    "vendor_account",
    "vendor",
    "call_id",
    "call_at",
    "caller",
    "callee",
    "x_number",
    "outcome",
    "raw_code",
    "raw_text",
    "begin_at",
    "ring_at",
    "answer_at",
    "release_at",
    "duration",
    "release_side",
    "recording_status",
    "binding_id",
)
# What each batch reads, column for column: tuples, not model instances (a third of
# the time per row).
_FIELDS = tuple("vendor_account__name" if c == "vendor_account" else c for c in CSV_COLUMNS)
_ID, _CALL_AT = _FIELDS.index("id"), _FIELDS.index("call_at")
# Distinct numbers (and texts) whose display is remembered during one export: phone
# number parsing costs ~30 µs, and X numbers and parties repeat. Bounded: flat memory.
_DISPLAY_CACHE = 100_000

# OWASP's list of characters that start a formula. Tab and CR count on their own.
_CSV_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: object) -> str:
    """A CSV cell a spreadsheet will not execute (CSV injection).

    Spreadsheets skip leading spaces (including no-break and other Unicode spaces)
    before reading a formula, so the check looks at the first non-space character.
    """
    text = "" if value is None else str(value)
    if text[:1].isalnum():  # most cells: neither a formula start nor a space first
        return text
    if text.startswith(_CSV_FORMULA_START) or text.lstrip().startswith(_CSV_FORMULA_START):
        return "'" + text
    return text


def when(value: datetime | None, zone: tzinfo | None = None) -> str:
    """A CSV time in TIME_ZONE, as the pages show it, with the offset spelled out.
    `zone` saves looking the current zone up per value (exports pass it)."""
    if value is None:
        return ""
    try:
        return value.astimezone(zone or timezone.get_current_timezone()).isoformat(
            timespec="seconds"
        )
    except (OverflowError, ValueError):  # a stored 9999-12-31 cannot move east of UTC
        return value.isoformat(timespec="seconds")


def stamper(zone: tzinfo) -> Callable[[datetime | str | None], str]:
    """`when(value, zone)` for the values `record_batches` reads: on PostgreSQL the
    server's own text in UTC ("2026-10-13 07:11:57.029038+00"), elsewhere datetimes.
    Zone offsets change on whole minutes, so a time's text is its minute's local
    prefix and offset, computed once per minute, and its own second: converting and
    formatting every value cost a sixth of an export.  Bounded: flat memory."""
    minutes: dict[str, tuple[str, str]] = {}

    def minute_of(text: str) -> tuple[str, str]:
        if len(minutes) >= _DISPLAY_CACHE:
            minutes.clear()
        # ValueError for anything but "YYYY-MM-DD HH:MM..." (TypeError: not text).
        local = when(datetime.fromisoformat(text[:16] + ":00+00:00"), zone)
        if len(local) != 25 or text[16] != ":":
            raise ValueError(text)
        minutes[text[:16]] = known = (local[:17], local[19:])
        return known

    def stamp(value: datetime | str | None) -> str:
        if value is None:
            return ""
        try:
            prefix, offset = minutes.get(value[:16]) or minute_of(value)
        except (TypeError, ValueError):
            # The ORM's datetimes (SQLite), or a year past 9999 in PostgreSQL's text.
            return when(value if isinstance(value, datetime) else _moment(value), zone)
        return f"{prefix}{value[17:19]}{offset}"

    return stamp


def _moment(text: str) -> datetime | str:
    try:
        return datetime.fromisoformat(text)
    except ValueError:  # beyond Python's datetime: the server's text as it is
        return text


def batch_formatter(user) -> Callable[[list[tuple]], Iterable[tuple]]:
    """A function turning one batch of `_FIELDS` tuples into the CSV rows `user` may
    see.  Column by column: each column is mapped by its formatter in one pass, and a
    column of few values (account, vendor, outcome, codes, texts, X numbers) is
    formatted once per distinct value of the batch."""
    shown_number, shown_text = number_display(user), text_display(user)
    number = _remembered(lambda value: cell(shown_number(value)))
    text = _remembered(lambda value: cell(shown_text(value)))
    stamp = stamper(timezone.get_current_timezone())

    def few(fn: Callable[[Any], str], column: tuple) -> list[str]:
        known = {value: fn(value) for value in set(column)}
        return list(map(known.__getitem__, column))

    def rows(batch: list[tuple]) -> Iterable[tuple]:
        (pk, account, vendor, call_id, call_at, caller, callee, x_number, outcome, raw_code,
         raw_text, begin_at, ring_at, answer_at, release_at, duration, side, recording,
         binding) = zip(*batch, strict=True)  # fmt: skip
        return zip(
            pk,
            few(cell, account),
            few(cell, vendor),
            map(cell, call_id),
            map(stamp, call_at),
            map(number, caller),
            map(number, callee),
            few(number, x_number),
            few(lambda value: value or "pending", outcome),
            few(cell, raw_code),
            few(text, raw_text),
            map(stamp, begin_at),
            map(stamp, ring_at),
            map(stamp, answer_at),
            map(stamp, release_at),
            duration,
            side,
            recording,
            few(lambda value: "" if value is None else value, binding),
            strict=True,
        )

    return rows


def _remembered(fn: Callable[[Any], str]) -> Callable[[Any], str]:
    """`fn` remembering up to _DISPLAY_CACHE results, then starting afresh: cheaper
    than lru_cache's bookkeeping when most values are new (callees)."""
    known: dict[Any, str] = {}

    def remembered(value: Any) -> str:
        shown = known.get(value)
        if shown is None:
            if len(known) >= _DISPLAY_CACHE:
                known.clear()
            shown = known[value] = fn(value)
        return shown

    return remembered


# --------------------------------------------------------------------- reading


def record_batches(records: QuerySet[CallRecord], *, batch_size: int) -> Iterator[list[tuple]]:
    """`records` in (call_at, id) order as lists of `_FIELDS` tuples, one query per list
    (times as `_fetch` reads them).

    Each query seeks past the last row of the previous batch: `call_at >= t` lets the
    call_at index find the start, the OR settles ties on the same instant by id.
    """
    ordered = _ordered(records)
    batch = _fetch(ordered[:batch_size])
    while batch:
        yield batch
        if len(batch) < batch_size:
            return
        batch = _fetch(_after(ordered, batch)[:batch_size])


def prepared_batches(
    records: QuerySet[CallRecord], *, batch_size: int, prepare: Callable[[list[tuple]], Any]
) -> Iterator[tuple[Any, int]]:
    """(prepare(batch), rows) for the batches of `record_batches`.

    On PostgreSQL the next batch's query is already running while this one is
    prepared: it is sent in pipeline mode before `prepare` and its rows read after,
    so the server's reading (a tenth of an export's time) overlaps our formatting.
    Nothing stays pending across a yield: the caller may use the connection between
    batches (a background export saves its progress).
    """
    if connection.vendor != "postgresql":
        for batch in record_batches(records, batch_size=batch_size):
            yield prepare(batch), len(batch)
        return
    ordered = _ordered(records)
    batch = _fetch(ordered[:batch_size])
    while batch:
        following = _after(ordered, batch)[:batch_size] if len(batch) == batch_size else None
        with _fetch_ahead(following) as ahead:
            prepared = prepare(batch)
        yield prepared, len(batch)
        batch = ahead.rows


def _ordered(records: QuerySet[CallRecord]) -> QuerySet:
    return records.order_by("call_at", "id").values_list(*_FIELDS)


def _after(ordered: QuerySet, batch: list[tuple]) -> QuerySet:
    at, pk = batch[-1][_CALL_AT], batch[-1][_ID]
    return ordered.filter(call_at__gte=at).filter(Q(call_at__gt=at) | Q(id__gt=pk))


def _fetch(rows: QuerySet) -> list[tuple]:
    """The tuples of a values_list queryset; on PostgreSQL with every timestamptz as
    the server's text in the session's zone (UTC, which Django sets), which `stamper`
    turns into CSV times far faster than through datetimes (and Django's loader of
    them, a Python subclass of psycopg's, is slower still).  Five times a row, a
    million rows: it matters.  The keyset seeks on that text as on the datetime."""
    if connection.vendor != "postgresql":
        return list(rows)
    from psycopg.types.string import TextLoader

    sql, params = rows.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.cursor.adapters.register_loader("timestamptz", TextLoader)
        cursor.execute(sql, params)
        return cursor.fetchall()


@dataclass
class _Ahead:
    rows: list[tuple] = field(default_factory=list)


@contextmanager
def _fetch_ahead(rows: QuerySet | None) -> Iterator[_Ahead]:
    """`_fetch(rows)` sent on entry and read on exit (psycopg's pipeline mode), on a
    client-binding cursor as Django's own (no prepared statements: PgBouncer)."""
    ahead = _Ahead()
    if rows is None:
        yield ahead
        return
    import psycopg
    from psycopg.types.string import TextLoader

    sql, params = rows.query.sql_with_params()
    connection.ensure_connection()
    raw = connection.connection
    with raw.pipeline(), psycopg.ClientCursor(raw) as cursor:
        cursor.adapters.register_loader("timestamptz", TextLoader)
        cursor.execute(sql, params)
        yield ahead
        ahead.rows = cursor.fetchall()


def csv_chunks(records: QuerySet[CallRecord], *, user) -> Iterator[tuple[str, int]]:
    """(text, rows in it) pieces of the whole CSV: the BOM and header first, then one
    piece per batch."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")  # RFC 4180 and Excel: CRLF
    writer.writerow(CSV_COLUMNS)
    # Excel opens UTF-8 CSV correctly only with a BOM.
    yield "\ufeff" + buffer.getvalue(), 0
    rows = batch_formatter(user)

    def text(batch: list[tuple]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerows(rows(batch))
        return buffer.getvalue()

    yield from prepared_batches(records, batch_size=conf.export_batch_rows(), prepare=text)


def export_filters(query: Mapping[str, Any]) -> dict[str, list[str]]:
    """The list page's filters as stored on the audit row: {name: [values]}. Other
    parameters (the page number, anything unknown) filter nothing and are not kept."""
    getlist = getattr(query, "getlist", None)
    return {
        key: getlist(key) if getlist else [str(query[key])]
        for key in query
        if key in CallRecordFilter.base_filters
    }


def export_records(export: CallRecordExport) -> QuerySet[CallRecord]:
    """The rows of `export`: its stored filters applied as its user may search."""
    return selectors.call_record_list(filters=export.filter_query(), user=export.user)


def estimate_rows(records: QuerySet, *, limit: int) -> int:
    """How many rows `records` holds, exactly up to `limit`, estimated beyond.

    PostgreSQL's planner estimate first (no scan at all); at or below `limit` a
    count of at most limit + 1 rows corrects an underestimate at bounded cost.
    SQLite (the quick start) has no estimate: the bounded count alone.
    """
    if connection.vendor == "postgresql":
        sql, params = records.order_by().query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
            plan = cursor.fetchone()[0]
        if isinstance(plan, str):
            plan = json.loads(plan)
        estimate = int(plan[0]["Plan"]["Plan Rows"])
        if estimate > limit:
            return estimate
    return records.order_by()[: limit + 1].count()


# --------------------------------------------------------------------- use cases


def export_start(*, user, filters: Mapping[str, Any]) -> CallRecordExport:
    """Audit a new export of the call records matching `filters` as `user` sees them.

    Raises ValidationError naming an unusable filter (nothing is audited then). Above
    the background threshold the export is queued for a worker (on commit);
    otherwise the caller streams `export_stream(export=…)` to the user.
    """
    records = selectors.call_record_list(filters=filters, user=user)
    limit = conf.export_background_rows()
    estimate = estimate_rows(records, limit=limit)
    mode = CallRecordExport.Mode.BACKGROUND if estimate > limit else CallRecordExport.Mode.INLINE
    export = CallRecordExport.objects.create(
        user=user,
        username=user.get_username(),
        filters=export_filters(filters),
        full_numbers=may_see_full_numbers(user),
        mode=mode,
        estimated_rows=estimate,
    )
    if mode == CallRecordExport.Mode.BACKGROUND:
        from callbacks import tasks

        transaction.on_commit(lambda: tasks.call_record_export_write.delay(export.pk))
    return export


def _save(export: CallRecordExport, **fields) -> None:
    for name, value in fields.items():
        setattr(export, name, value)
    export.save(update_fields=[*fields, "updated_at"])


def _failure(exc: BaseException) -> str:
    # Database errors may quote row values: never a whole number in the audit.
    return mask_numbers_in_text(f"{type(exc).__name__}: {exc}")[:1000]


def _progress(export: CallRecordExport) -> Iterator[str]:
    """The CSV of `export` piece by piece, saving rows written after every batch (the
    page polls it; a stalled export shows as no progress)."""
    for text, rows in csv_chunks(export_records(export), user=export.user):
        if rows:
            _save(export, rows_written=export.rows_written + rows)
        yield text


def export_stream(*, export: CallRecordExport) -> Iterator[str]:
    """The CSV of an inline export, piece by piece, keeping its audit row current."""
    _save(export, status=Status.RUNNING, started_at=timezone.now())
    try:
        yield from _progress(export)
    except GeneratorExit:  # the client went away: the server closed the response
        _save(export, status=Status.INTERRUPTED, finished_at=timezone.now())
        raise
    except Exception as exc:
        logger.exception("callbacks: export %s failed", export.pk)
        _save(export, status=Status.FAILED, error=_failure(exc), finished_at=timezone.now())
        raise
    _save(export, status=Status.DONE, finished_at=timezone.now())


def export_write(*, export_id: int) -> CallRecordExport:
    """Write a background export's file into the default storage (the worker's task).

    Progress (rows written) is saved after every batch for the page to poll. A
    redelivered task (worker lost) starts the file again; a finished one is left alone.
    """
    export = CallRecordExport.objects.select_related("user").get(pk=export_id)
    if not export.is_pending:
        return export
    _save(export, status=Status.RUNNING, started_at=timezone.now(), rows_written=0)
    try:
        if export.user is None:
            raise LookupError("the user who asked for it no longer exists")
        name, size = _write_file(export)
    except Exception as exc:
        logger.exception("callbacks: background export %s failed", export.pk)
        _save(export, status=Status.FAILED, error=_failure(exc), finished_at=timezone.now())
        return export
    now = timezone.now()
    _save(
        export,
        status=Status.DONE,
        file=name,
        file_size=size,
        finished_at=now,
        expires_at=now + timedelta(hours=conf.export_file_hours()),
    )
    return export


def _write_file(export: CallRecordExport) -> tuple[str, int]:
    """(storage name, bytes) of the written CSV; spooled through a local temporary file
    so S3 gets one upload of known size."""
    with tempfile.TemporaryFile() as spool:
        for text in _progress(export):
            spool.write(text.encode("utf-8"))
        size = spool.tell()
        spool.seek(0)
        # A random part: storage names must not be guessable, whoever serves them.
        day = timezone.now().strftime("%Y/%m/%d")
        wanted = f"exports/{day}/call-records-{export.pk}-{secrets.token_hex(8)}.csv"
        name = default_storage.save(wanted, File(spool, name="call-records.csv"))
    return name, size


def export_expire(*, now: datetime | None = None) -> int:
    """Beat: delete the files of exports past `expires_at`, and fail exports whose
    process died (no progress for `conf.export_stale_minutes()`). Returns files deleted."""
    now = now or timezone.now()
    stale = now - timedelta(minutes=conf.export_stale_minutes())
    CallRecordExport.objects.filter(
        status__in=[Status.QUEUED, Status.RUNNING], updated_at__lt=stale
    ).update(status=Status.FAILED, error="no progress: its process stopped", finished_at=now)
    deleted = 0
    for export in CallRecordExport.objects.filter(status=Status.DONE, expires_at__lte=now):
        if export.file:
            try:
                default_storage.delete(export.file.name)
            except OSError:
                logger.exception("callbacks: cannot delete export file of %s", export.pk)
                continue
            deleted += 1
        _save(export, status=Status.EXPIRED, file="")
    return deleted


def export_may_download(export: CallRecordExport, user) -> bool:
    """Only its owner, and whole numbers only while they may still see them."""
    if export.user_id != user.pk or not export.is_downloadable:
        return False
    return not export.full_numbers or may_see_full_numbers(user)
