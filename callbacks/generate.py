"""Synthetic call records for benchmarks and demos (`manage.py generate_call_records`).

Realistic shapes, not uniform noise: calls follow the hours of a working day and
the week, outcomes and their vendor result codes follow a typical privacy-number
mix, talk times are log-normal, callers come back, most calls of binding vendors
ride on a binding of the account's X pool, a share of calls carries its status
events, and about 1% of answered calls a downloaded recording (one short WAV in
storage, shared).

Python draws the accounts, bindings and per-account call shapes (the outcome,
codes, times and parties of a call); rows are written in call-time order with
explicit ids.  On PostgreSQL the rows themselves are made by the server: the
shapes and the calls per hour go into temporary tables, and one INSERT ... SELECT
per chunk of hours draws each call's time, account and shape with random() (seeded
from the run's seed) and inserts its events in the same statement.  No row crosses
the wire, which made a 10M load several times faster than Python rows through COPY.
For a large load the tables' secondary indexes and foreign keys are dropped first
and rebuilt after, in the same transaction (a failure leaves the tables as they
were).  Dropping the foreign keys locks the tables they point at (vendor accounts,
bindings) until the load commits: run a large load on a database nobody is using.
Elsewhere (the quick start's SQLite) Python makes the rows and bulk_create writes
them.
"""

from __future__ import annotations

import io
import json
import math
import random
import struct
import wave
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.utils import timezone
from psycopg import sql

import vendors
from accounts import services as account_services
from accounts.models import PrivacyNumber, VendorAccount
from callbacks.models import CallEvent, CallRecord
from privacy.models import Binding

Outcome = vendors.CallOutcome

# Share of calls per outcome (privacy-number traffic: most connect, a sixth ring out).
OUTCOME_WEIGHTS = {
    Outcome.ANSWERED: 62.0,
    Outcome.NO_ANSWER: 16.0,
    Outcome.BUSY: 8.0,
    Outcome.REJECTED: 5.0,
    Outcome.UNREACHABLE: 4.0,
    Outcome.FAILED: 2.5,
    Outcome.INVALID_NUMBER: 1.0,
    Outcome.BLOCKED: 1.0,
    Outcome.OTHER: 0.5,
}
# Relative calls per local hour of day (0-23): quiet nights, peaks late morning and afternoon.
HOUR_WEIGHTS = (
    1, 0.6, 0.4, 0.3, 0.3, 0.5, 1.5, 4, 8, 11, 12, 11, 8, 9, 11, 12, 11, 10, 8, 6, 5, 4, 3, 2,
)  # fmt: skip
WEEKEND_FACTOR = 0.6
RECORDING_SHARE = 0.01  # of answered calls
PENDING_SHARE = 0.002  # calls whose CDR never came (events only, or nothing yet)
POOL_SIZE = 40  # X numbers per generated account
SAMPLE_RECORDING = "recordings/generated/sample.wav"
# Above this many rows, dropping the secondary indexes and rebuilding them is faster.
BARE_LOAD_THRESHOLD = 500_000
TABLES = (CallRecord._meta.db_table, CallEvent._meta.db_table)


@dataclass
class Account:
    """What the generator needs of one vendor account."""

    pk: int
    vendor: str
    pool: list[tuple[int, str]]  # (PrivacyNumber pk, number)
    codes: dict[str, list[tuple[str, str]]]  # outcome -> [(raw_code, meaning)]
    bindings: list[tuple[int, str, str, str, str]] = field(default_factory=list)
    # (binding pk, vendor_binding_id, a, b, x)


@dataclass
class Options:
    count: int
    days: int = 30
    accounts: int = 4
    events_share: float = 0.2
    seed: int | None = None
    end: datetime | None = None
    progress: Callable[[str], None] = print


# --------------------------------------------------------------------- setup


def prepare_accounts(*, wanted: int, rng: random.Random) -> list[Account]:
    """`wanted` vendor accounts: existing ones first, then generated ones (disabled,
    pointing nowhere), each with an X pool and its vendor's result codes."""
    rows = list(VendorAccount.objects.order_by("pk")[:wanted])
    codes = list(vendors.REGISTRY)
    for i in range(len(rows), wanted):
        vendor = codes[i % len(codes)]
        rows.append(
            account_services.vendor_account_create(
                vendor=vendor,
                name=f"generated {vendor} {i + 1}",
                base_url="https://generated.invalid/",
                account_id=f"generated-{i + 1}",
                secret="generated-not-a-secret",
                enabled=False,
            )
        )
    return [_account(row, rng) for row in rows]


def _account(row: VendorAccount, rng: random.Random) -> Account:
    pool = list(row.numbers.values_list("pk", "number")[:POOL_SIZE])
    taken = set(PrivacyNumber.objects.values_list("number", flat=True))
    while len(pool) < POOL_SIZE:
        number = f"+86170{rng.randrange(10**8):08d}"
        if number in taken:
            continue
        taken.add(number)
        made = account_services.number_create(
            vendor_account=row, number=number, area_code="010", note="generated"
        )
        pool.append((made.pk, made.number))
    cls = vendors.REGISTRY.get(row.vendor, vendors.VendorClient)
    codes: dict[str, list[tuple[str, str]]] = {}
    for code, (outcome, meaning) in cls.call_result_codes.items():
        codes.setdefault(outcome.value, []).append((code, meaning))
    return Account(pk=row.pk, vendor=row.vendor, pool=pool, codes=codes)


def make_bindings(account: Account, *, count: int, start: datetime, rng: random.Random) -> None:
    """Released bindings of the account's pool over the period (only for vendors with
    binding kinds); the calls of the account mostly ride on them."""
    cls = vendors.REGISTRY.get(account.vendor, vendors.VendorClient)
    if not cls.binding_kinds or count <= 0:
        return
    kind = cls.binding_kinds[0].code
    made = []
    for _ in range(count):
        x_pk, x = rng.choice(account.pool)
        a, b = _mobile(rng), _mobile(rng)
        made.append(
            Binding(
                kind=kind,
                vendor_account_id=account.pk,
                x_number_id=x_pk,
                a_number=a,
                b_number=b,
                ttl=86400,
                vendor_binding_id=f"g{rng.randrange(16**12):012x}",
                state=Binding.State.RELEASED,
                activated_at=start,
                ended_at=start,
            )
        )
    for chunk in range(0, len(made), 5000):
        Binding.objects.bulk_create(made[chunk : chunk + 5000])
    account.bindings = [(b.pk, b.vendor_binding_id, b.a_number, b.b_number, x) for b in made]
    # bulk_create leaves x as the pool pk: map back to the number.
    numbers = dict(account.pool)
    account.bindings = [
        (pk, vid, a, b_, numbers[m.x_number_id])
        for (pk, vid, a, b_, _x), m in zip(account.bindings, made, strict=True)
    ]


# Mobile prefixes that phonenumbers (core.phones) accepts as Chinese mobiles.
MOBILE_PREFIXES = [
    "130",
    "131",
    "132",
    "133",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "155",
    "156",
    "157",
    "158",
    "159",
    "176",
    "177",
    "178",
    "180",
    "181",
    "182",
    "183",
    "185",
    "186",
    "187",
    "188",
    "189",
]


def _mobile(rng: random.Random, pool: int = 0) -> str:
    """A Chinese mobile in E.164; from a pool of `pool` repeat callers when given."""
    if pool:
        k = int(rng.random() * pool)
        return f"+86{MOBILE_PREFIXES[k % 29]}{(k * 7919) % 10**8:08d}"
    return f"+86{MOBILE_PREFIXES[int(rng.random() * 29)]}{int(rng.random() * 10**8):08d}"


def sample_recording() -> tuple[str, int]:
    """The shared generated recording (20 s of a quiet tone, 8 kHz WAV): name and size."""
    if not default_storage.exists(SAMPLE_RECORDING):
        buf = io.BytesIO()
        with wave.open(buf, "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(8000)
            frames = (int(3000 * math.sin(2 * math.pi * 440 * i / 8000)) for i in range(160000))
            out.writeframes(b"".join(struct.pack("<h", s) for s in frames))
        default_storage.save(SAMPLE_RECORDING, ContentFile(buf.getvalue()))
    return SAMPLE_RECORDING, default_storage.size(SAMPLE_RECORDING)


# --------------------------------------------------------------------- times


def hour_counts(*, count: int, start: datetime, days: int) -> list[tuple[float, int]]:
    """How many of `count` calls fall in each hour of `days` days from `start`
    (epoch seconds of the hour, calls), following HOUR_WEIGHTS in the console's time
    zone and quieter weekends."""
    zone = ZoneInfo(settings.TIME_ZONE)
    local_start = start.astimezone(zone).replace(minute=0, second=0, microsecond=0)
    hours = [local_start + timedelta(hours=h) for h in range(days * 24)]
    weights = [HOUR_WEIGHTS[h.hour] * (WEEKEND_FACTOR if h.weekday() >= 5 else 1.0) for h in hours]
    total = sum(weights)
    carry = 0.0
    left = count
    counts = []
    for i, (hour, weight) in enumerate(zip(hours, weights, strict=True)):
        carry += count * weight / total
        n = left if i == len(hours) - 1 else min(left, int(carry))
        carry -= n
        left -= n
        counts.append((hour.timestamp(), n))
    return counts


def call_times(*, count: int, start: datetime, days: int, rng: random.Random) -> Iterator[float]:
    """`count` call times (epoch seconds) over `days` days from `start`, ascending."""
    rand = rng.random
    for base, n in hour_counts(count=count, start=start, days=days):
        yield from sorted(base + rand() * 3600 for _ in range(n))


# --------------------------------------------------------------------- rows

# The columns a generated call sets, in the order of `Call.values`; the others keep
# their model defaults.
CALL_COLUMNS = (
    "id", "vendor_account_id", "vendor", "call_id", "binding_id", "vendor_binding_id",
    "caller", "callee", "x_number", "outcome", "raw_code", "raw_text",
    "begin_at", "ring_at", "answer_at", "release_at", "call_at", "duration", "release_side",
    "has_cdr", "cdr_received_at", "first_seen_at", "updated_at",
    "recording_url", "recording_status", "recording_file", "recording_size",
    "recording_content_type", "recording_attempts",
)  # fmt: skip
EVENT_COLUMNS = (
    "call_record_id", "kind", "occurred_at", "caller", "callee", "x_number",
    "state_code", "state_text", "received_at",
)  # fmt: skip
_OUTCOME_SLOTS = [o for o, w in OUTCOME_WEIGHTS.items() for _ in range(int(w * 2))]
_RINGS = {Outcome.ANSWERED, Outcome.NO_ANSWER, Outcome.REJECTED, Outcome.OTHER}
_DOWNLOADED = CallRecord.RecordingStatus.DOWNLOADED.value


@dataclass
class Recording:
    name: str
    size: int


# How many distinct call shapes (outcome, times, parties) each account draws from:
# rows pick one at random, so a row costs a few microseconds, not dozens of draws.
SHAPES = 20_000


def call_shapes(account: Account, rng: random.Random, *, count: int, callers: int) -> list[tuple]:
    """`count` random calls of the account, times as offsets from the call's start:
    (outcome, code, meaning, ring, answer, release, cdr, duration, side, pending,
    recorded, binding, vendor binding id, caller, callee, x)."""
    rand = rng.random
    shapes = []
    for _ in range(count):
        outcome = _OUTCOME_SLOTS[int(rand() * len(_OUTCOME_SLOTS))]
        pending = rand() < PENDING_SHARE
        ring = 1 + rand() * 3 if outcome in _RINGS else None
        answer = None
        duration = 0
        if outcome is Outcome.ANSWERED:
            answer = ring + 2 + rand() * 18
            duration = int(min(3600, max(1, rng.lognormvariate(4.1, 1.0))))
            release = answer + duration
        else:
            release = (ring or 0) + 1 + rand() * (39 if ring else 2)
        code, meaning = _code(account, outcome.value, rand) if not pending else ("", "")
        binding, vid, x = None, "", account.pool[int(rand() * len(account.pool))][1]
        caller, callee = _mobile(rng, callers), _mobile(rng)
        if account.bindings and rand() < 0.9:
            binding, vid, caller, callee, x = account.bindings[int(rand() * len(account.bindings))]
        shape = (
            "" if pending else outcome.value, code, meaning, ring, answer, release,
            None if pending else release + 1 + rand() * 89, 0 if pending else duration,
            "" if pending else _side(outcome, rand), pending,
            outcome is Outcome.ANSWERED and not pending and rand() < RECORDING_SHARE,
            binding, vid, caller, callee, x,
        )  # fmt: skip
        shapes.append(shape)
    return shapes


def call_values(pk: int, t: float, account: Account, shape: tuple, recording: Recording) -> list:
    """One call's CALL_COLUMNS values (times as epoch seconds) from its shape."""
    (outcome, code, meaning, ring, answer, release, cdr, duration, side, pending, recorded,
     binding, vid, caller, callee, x) = shape  # fmt: skip
    release += t
    return [
        pk, account.pk, account.vendor, f"gen{account.pk}-{pk:010d}", binding, vid,
        caller, callee, x, outcome, code, meaning,
        t, None if ring is None else t + ring, None if answer is None else t + answer,
        release, t, duration, side, not pending, None if cdr is None else t + cdr, t, release,
        f"https://generated.invalid/rec/{pk}.wav" if recorded else "",
        _DOWNLOADED if recorded else _NO_RECORDING,
        recording.name if recorded else "", recording.size if recorded else None,
        "audio/wav" if recorded else "", 1 if recorded else 0,
    ]  # fmt: skip


_NO_RECORDING = CallRecord.RecordingStatus.NONE.value


def _code(account: Account, outcome: str, rand) -> tuple[str, str]:
    choices = account.codes.get(outcome)
    return choices[int(rand() * len(choices))] if choices else ("", "")


def _side(outcome: Outcome, rand) -> str:
    if outcome is Outcome.ANSWERED:
        r = rand()
        return "caller" if r < 0.55 else "callee" if r < 0.98 else "platform"
    return "platform" if rand() < 0.3 else ""


_EVENT_AT = (
    (CallEvent.Kind.CALL_START.value, 12),
    (CallEvent.Kind.ALERTING.value, 13),
    (CallEvent.Kind.ANSWER.value, 14),
    (CallEvent.Kind.DISCONNECT.value, 15),
)


def event_values(call: list, rng: random.Random) -> Iterator[list]:
    """EVENT_COLUMNS of the status events of one call (start, alerting, answer,
    disconnect as it went; no disconnect while the CDR is missing)."""
    for kind, index in _EVENT_AT:
        at = call[index]
        if at is None or (index == 15 and not call[19]):
            continue
        last = index == 15
        yield [
            call[0], kind, at, call[6], call[7], call[8],
            call[10] if last else "", call[11] if last else "", at + 0.1 + rng.random() * 3,
        ]  # fmt: skip


# --------------------------------------------------------------------- writing (Python)


class Table:
    """Writes rows (lists in `columns` order, times as epoch seconds) of one model
    with bulk_create, the other columns at their defaults (the non-PostgreSQL path)."""

    def __init__(self, model, columns: tuple[str, ...]):
        self.model = model
        self.columns = columns
        self.times = [i for i, c in enumerate(columns) if c in _TIME_COLUMNS]
        self.rest = _defaults(model, columns)

    def write(self, rows: list[list]) -> None:
        for row in rows:
            for i in self.times:
                if row[i] is not None:
                    row[i] = datetime.fromtimestamp(row[i], UTC)
        objs = [self.model(**dict(zip(self.columns, r, strict=True)), **self.rest) for r in rows]
        self.model.objects.bulk_create(objs, batch_size=2000)


_TIME_COLUMNS = {
    "begin_at", "ring_at", "answer_at", "release_at", "call_at", "cdr_received_at",
    "first_seen_at", "updated_at", "occurred_at", "received_at",
}  # fmt: skip


def _defaults(model, columns: tuple[str, ...]) -> dict:
    """The model's other concrete fields (not the primary key) at their defaults."""
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    return {f.attname: f.get_default() for f in fields if f.attname not in columns}


# Rows per bulk_create round on the Python path: memory stays flat.
PYTHON_CHUNK = 50_000


def _load_python(options: Options, plan: Plan) -> dict[str, int]:
    rng, recording, next_id = plan.rng, plan.recording, plan.next_id
    records, events = Table(CallRecord, CALL_COLUMNS), Table(CallEvent, EVENT_COLUMNS)
    totals = {"records": 0, "events": 0}
    times = call_times(count=options.count, start=plan.start, days=options.days, rng=rng)
    rand = rng.random
    chunk: list[list] = []
    for n, at in enumerate(times, start=1):
        which = int(rand() * len(plan.accounts))
        shape = plan.shapes[which][int(rand() * len(plan.shapes[which]))]
        chunk.append(call_values(next_id + len(chunk), at, plan.accounts[which], shape, recording))
        if len(chunk) < PYTHON_CHUNK and n < options.count:
            continue
        # Events first: writing the calls turns their times into datetimes.
        calls = [e for r in chunk if rand() < options.events_share for e in event_values(r, rng)]
        records.write(chunk)
        events.write(calls)
        next_id += len(chunk)
        totals["records"] += len(chunk)
        totals["events"] += len(calls)
        options.progress(f"{totals['records']:,} call records, {totals['events']:,} events")
        chunk = []
    return totals


# --------------------------------------------------------------------- writing (PostgreSQL)


@contextmanager
def bare_tables(cursor, tables: tuple[str, ...], progress: Callable[[str], None]):
    """Drop the tables' secondary indexes and foreign keys, and rebuild them on exit
    (one index build beats ten million index inserts and trigger checks)."""
    cursor.execute(
        "SELECT i.relname, pg_get_indexdef(ix.indexrelid) FROM pg_index ix "
        "JOIN pg_class i ON i.oid = ix.indexrelid JOIN pg_class c ON c.oid = ix.indrelid "
        "WHERE c.relname = ANY(%s) AND NOT EXISTS (SELECT 1 FROM pg_constraint k "
        "WHERE k.conindid = ix.indexrelid AND k.contype IN ('p', 'u', 'x'))",
        [list(tables)],
    )
    indexes = cursor.fetchall()
    cursor.execute(
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE contype = 'f' AND conrelid::regclass::text = ANY(%s)",
        [list(tables)],
    )
    foreign = cursor.fetchall()
    for table, name, _ in foreign:
        cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for name, _ in indexes:
        cursor.execute(f'DROP INDEX "{name}"')
    yield
    # Sorts of ten million keys in memory rather than in temporary files.
    cursor.execute("SET LOCAL maintenance_work_mem = '1GB'")
    for name, definition in indexes:
        progress(f"rebuilding index {name}")
        cursor.execute(definition)
    progress("restoring foreign keys")
    for table, name, definition in foreign:
        cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')


# The shape columns in the order of call_shapes' tuples, then the account's.
_SHAPE_TABLE = """CREATE TEMPORARY TABLE gen_shape (
    acct int, k int, outcome text, code text, meaning text, ring float8, answer float8,
    release float8, cdr float8, duration int, side text, pending bool, recorded bool,
    binding int, vid text, caller text, callee text, x text, pk int, vendor text
) ON COMMIT DROP"""
_HOUR_TABLE = (
    "CREATE TEMPORARY TABLE gen_hour (h int, base float8, n int, first_id bigint) ON COMMIT DROP"
)
_PREFIXES = "ARRAY[" + ",".join(f"'{p}'" for p in MOBILE_PREFIXES) + "]"
# Per call: its time in the hour, account, shape and (off a binding) its caller from
# the pool of repeat callers and a fresh callee, as _mobile draws them.
_CALL_SELECT = f"""
    s.pk, s.vendor, 'gen' || s.pk || '-' || lpad(d.id::text, 10, '0'), s.binding, s.vid,
    CASE WHEN s.binding IS NOT NULL THEN s.caller
         ELSE '+86' || ({_PREFIXES})[1 + d.who %% 29]
              || lpad(((d.who * 7919) %% 100000000)::text, 8, '0') END,
    CASE WHEN s.binding IS NOT NULL THEN s.callee
         ELSE '+86' || ({_PREFIXES})[1 + floor(random() * 29)::int]
              || lpad(floor(random() * 100000000)::bigint::text, 8, '0') END,
    s.x, s.outcome, s.code, s.meaning,
    to_timestamp(d.t), to_timestamp(d.t + s.ring), to_timestamp(d.t + s.answer),
    to_timestamp(d.t + s.release), to_timestamp(d.t), s.duration, s.side, NOT s.pending,
    to_timestamp(d.t + s.cdr), to_timestamp(d.t), to_timestamp(d.t + s.release),
    CASE WHEN s.recorded THEN 'https://generated.invalid/rec/' || d.id || '.wav' ELSE '' END,
    CASE WHEN s.recorded THEN %(downloaded)s ELSE %(none)s END,
    CASE WHEN s.recorded THEN %(file)s ELSE '' END,
    CASE WHEN s.recorded THEN %(size)s::bigint END,
    CASE WHEN s.recorded THEN 'audio/wav' ELSE '' END,
    CASE WHEN s.recorded THEN 1 ELSE 0 END"""
_EVENT_SELECT = """
    c.id, e.kind, e.at, c.caller, c.callee, c.x_number,
    CASE WHEN e.last THEN c.raw_code ELSE '' END, CASE WHEN e.last THEN c.raw_text ELSE '' END,
    e.at + make_interval(secs => 0.1 + random() * 3)"""
_LOAD = """
WITH draws AS MATERIALIZED (
    SELECT hr.first_id - 1 + row_number() OVER (PARTITION BY hr.h ORDER BY g.t) AS id, g.t,
           floor(random() * %(accounts)s)::int AS acct, floor(random() * %(shapes)s)::int AS k,
           floor(random() * %(callers)s)::bigint AS who
    FROM gen_hour hr
    CROSS JOIN LATERAL (SELECT hr.base + random() * 3600 AS t FROM generate_series(1, hr.n)) g
    WHERE hr.h >= %(first)s AND hr.h < %(last)s
), calls AS (
    INSERT INTO {records} ({record_columns})
    SELECT d.id, {call_select}, {record_rest}
    FROM draws d JOIN gen_shape s ON s.acct = d.acct AND s.k = d.k
    ORDER BY d.id
    RETURNING id, begin_at, ring_at, answer_at, release_at, has_cdr, caller, callee, x_number,
              raw_code, raw_text
), events AS (
    INSERT INTO {events} ({event_columns})
    SELECT {event_select}, {event_rest}
    FROM (SELECT * FROM calls WHERE random() < %(events_share)s) c
    CROSS JOIN LATERAL (VALUES ({start!r}, c.begin_at, false), ({alerting!r}, c.ring_at, false),
        ({answer!r}, c.answer_at, false),
        ({disconnect!r}, CASE WHEN c.has_cdr THEN c.release_at END, true)) e(kind, at, last)
    WHERE e.at IS NOT NULL
    ORDER BY c.id, e.at
    RETURNING 1
)
SELECT (SELECT count(*) FROM calls), (SELECT count(*) FROM events)
"""
# Rows per INSERT ... SELECT: big enough that statements cost nothing, small enough
# to report progress and keep the chunk's sort in memory.
SQL_CHUNK = 500_000


def _rest_sql(model, columns: tuple[str, ...], params: dict) -> str:
    """The model's other columns (their defaults) as SQL placeholders, in model order;
    adds their values to `params`."""
    parts = []
    for name, value in _defaults(model, columns).items():
        key = f"{model._meta.model_name}_{name}"
        field = model._meta.get_field(name)
        if isinstance(value, dict | list):
            params[key] = json.dumps(value)
            parts.append(f"%({key})s::jsonb")
        else:
            params[key] = field.get_db_prep_save(value, connection)
            parts.append(f"%({key})s")
    return ", ".join(parts)


def _load_statement(params: dict) -> str:
    quote = connection.ops.quote_name

    def names(model, columns):
        rest = _defaults(model, columns)
        return ", ".join(quote(model._meta.get_field(c).column) for c in (*columns, *rest))

    kinds = CallEvent.Kind
    return _LOAD.format(
        records=quote(CallRecord._meta.db_table),
        events=quote(CallEvent._meta.db_table),
        record_columns=names(CallRecord, CALL_COLUMNS),
        event_columns=names(CallEvent, EVENT_COLUMNS),
        call_select=_CALL_SELECT,
        event_select=_EVENT_SELECT,
        record_rest=_rest_sql(CallRecord, CALL_COLUMNS, params),
        event_rest=_rest_sql(CallEvent, EVENT_COLUMNS, params),
        start=kinds.CALL_START.value,
        alerting=kinds.ALERTING.value,
        answer=kinds.ANSWER.value,
        disconnect=kinds.DISCONNECT.value,
    )


def _copy_plan(cursor, options: Options, plan: Plan) -> list[tuple[int, int]]:
    """The shapes and the calls per hour into temporary tables; returns the hour
    ranges [first, last) of the chunks."""
    cursor.execute(_SHAPE_TABLE)
    with cursor.copy("COPY gen_shape FROM STDIN") as copy:
        for acct, (account, shapes) in enumerate(zip(plan.accounts, plan.shapes, strict=True)):
            for k, shape in enumerate(shapes):
                copy.write_row((acct, k, *shape, account.pk, account.vendor))
    cursor.execute(_HOUR_TABLE)
    counts = hour_counts(count=options.count, start=plan.start, days=options.days)
    chunks, first, rows, next_id = [], 0, 0, plan.next_id
    with cursor.copy("COPY gen_hour FROM STDIN") as copy:
        for h, (base, n) in enumerate(counts):
            copy.write_row((h, base, n, next_id))
            next_id += n
            rows += n
            if rows >= SQL_CHUNK:
                chunks.append((first, h + 1))
                first, rows = h + 1, 0
    if first < len(counts):
        chunks.append((first, len(counts)))
    cursor.execute("ANALYZE gen_shape")
    return chunks


def _load_postgres(cursor, options: Options, plan: Plan) -> dict[str, int]:
    chunks = _copy_plan(cursor, options, plan)
    recording = plan.recording
    params = {
        "accounts": len(plan.accounts),
        "shapes": len(plan.shapes[0]),
        "callers": plan.callers,
        "events_share": options.events_share,
        "downloaded": _DOWNLOADED,
        "none": _NO_RECORDING,
        "file": recording.name,
        "size": recording.size,
    }
    statement = _load_statement(params)
    # The server's random() is seeded from the run's generator: a seed repeats a load.
    cursor.execute("SELECT setseed(%s)", [plan.rng.random() * 2 - 1])
    cursor.execute("SET LOCAL work_mem = '256MB'")
    totals = {"records": 0, "events": 0}
    for first, last in chunks:
        cursor.execute(statement, {**params, "first": first, "last": last})
        records, events = cursor.fetchone()
        totals["records"] += records
        totals["events"] += events
        options.progress(f"{totals['records']:,} call records, {totals['events']:,} events")
    return totals


# --------------------------------------------------------------------- the whole run


def server_side() -> bool:
    """Whether the server makes the rows (PostgreSQL) or Python does."""
    return connection.vendor == "postgresql"


@dataclass
class Plan:
    """What Python draws before any call row is written."""

    rng: random.Random
    start: datetime
    accounts: list[Account]
    shapes: list[list[tuple]]
    recording: Recording
    callers: int
    next_id: int = 1


def generate(options: Options) -> dict[str, int]:
    """Generate options.count call records (and their bindings, events, recordings)."""
    rng = random.Random(options.seed)
    end = options.end or timezone.now()
    start = end - timedelta(days=options.days)
    accounts = prepare_accounts(wanted=max(1, options.accounts), rng=rng)
    per_account = min(options.count // 40 // len(accounts) + 1, 100_000)
    for account in accounts:
        make_bindings(account, count=per_account, start=start, rng=rng)
    callers = max(options.count // 20, 100)
    n = min(SHAPES, options.count)
    plan = Plan(
        rng=rng,
        start=start,
        accounts=accounts,
        shapes=[call_shapes(a, rng, count=n, callers=callers) for a in accounts],
        recording=Recording(*sample_recording()),
        callers=callers,
    )
    postgres = server_side()
    with transaction.atomic(), connection.cursor() as wrapper:
        cursor = wrapper.cursor if postgres else wrapper  # psycopg's own, for COPY
        if postgres:
            cursor.execute(f"LOCK TABLE {TABLES[0]}, {TABLES[1]} IN EXCLUSIVE MODE")
        last = CallRecord.objects.order_by("-pk").values_list("pk", flat=True).first()
        plan.next_id = (last or 0) + 1
        if not postgres:
            return _load_python(options, plan)
        bare = options.count >= BARE_LOAD_THRESHOLD
        with bare_tables(cursor, TABLES, options.progress) if bare else _nothing():
            totals = _load_postgres(cursor, options, plan)
        for table in TABLES:
            statement = sql.SQL(
                "SELECT setval(pg_get_serial_sequence({name}, 'id'), "
                "(SELECT COALESCE(MAX(id), 1) FROM {table}))"
            ).format(name=sql.Literal(table), table=sql.Identifier(table))
            cursor.execute(statement)
    options.progress("analyzing")
    with connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(f"ANALYZE {table}")
    return totals


@contextmanager
def _nothing():
    yield
