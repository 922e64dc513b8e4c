"""Synthetic call records for benchmarks and demos (`manage.py generate_call_records`).

Realistic shapes, not uniform noise: calls follow the hours of a working day and
the week, outcomes and their vendor result codes follow a typical privacy-number
mix, talk times are log-normal, callers come back, most calls of binding vendors
ride on a binding of the account's X pool, a share of calls carries its status
events, and about 1% of answered calls a downloaded recording (one short WAV in
storage, shared).

Rows are written in call-time order with explicit ids.  On PostgreSQL they go
through COPY (psycopg's `cursor.copy`); for a large load the tables' secondary
indexes and foreign keys are dropped first and rebuilt after, in the same
transaction (a failure leaves the tables as they were).  Dropping the foreign keys
locks the tables they point at (vendor accounts, bindings) until the load commits:
run a large load on a database nobody is using.  Elsewhere (the quick start's
SQLite) rows go in bulk_create batches.
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


def call_times(*, count: int, start: datetime, days: int, rng: random.Random) -> Iterator[float]:
    """`count` call times (epoch seconds) over `days` days from `start`, ascending,
    following HOUR_WEIGHTS in the console's time zone and quieter weekends."""
    zone = ZoneInfo(settings.TIME_ZONE)
    local_start = start.astimezone(zone).replace(minute=0, second=0, microsecond=0)
    hours = [local_start + timedelta(hours=h) for h in range(days * 24)]
    weights = [HOUR_WEIGHTS[h.hour] * (WEEKEND_FACTOR if h.weekday() >= 5 else 1.0) for h in hours]
    total = sum(weights)
    carry = 0.0
    left = count
    rand = rng.random
    for i, (hour, weight) in enumerate(zip(hours, weights, strict=True)):
        carry += count * weight / total
        n = left if i == len(hours) - 1 else min(left, int(carry))
        carry -= n
        left -= n
        base = hour.timestamp()
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


# --------------------------------------------------------------------- writing

_TIME_COLUMNS = {
    "begin_at", "ring_at", "answer_at", "release_at", "call_at", "cdr_received_at",
    "first_seen_at", "updated_at", "occurred_at", "received_at",
}  # fmt: skip


class Table:
    """Writes rows (lists in `columns` order) of one model: COPY on PostgreSQL, the
    other columns at their defaults; bulk_create elsewhere."""

    def __init__(self, model, columns: tuple[str, ...]):
        self.model = model
        self.columns = columns
        self.times = [i for i, c in enumerate(columns) if c in _TIME_COLUMNS]
        fields = {f.attname: f for f in model._meta.concrete_fields}
        rest = [f for name, f in fields.items() if name not in columns and not f.primary_key]
        self.rest = {f.attname: f.get_default() for f in rest}
        names = [*columns, *(f.column for f in rest)]
        cols = ", ".join(connection.ops.quote_name(c) for c in names)
        self.sql = f"COPY {connection.ops.quote_name(model._meta.db_table)} ({cols}) FROM STDIN"
        self.suffix = "".join("\t" + _text(v) for v in self.rest.values())

    def write(self, cursor, rows: list[list]) -> None:
        postgres = connection.vendor == "postgresql"
        convert = _stamp if postgres else _moment
        for row in rows:
            for i in self.times:
                if row[i] is not None:
                    row[i] = convert(row[i])
        if not postgres:
            objs = [
                self.model(**dict(zip(self.columns, r, strict=True)), **self.rest) for r in rows
            ]
            self.model.objects.bulk_create(objs, batch_size=2000)
            return
        suffix = self.suffix + "\n"
        # Generated values are str, int, float, bool (PostgreSQL reads "True"), datetime
        # or None, and hold no tab, newline or backslash: str() is their COPY text.
        lines = ["\t".join(["\\N" if v is None else str(v) for v in row]) + suffix for row in rows]
        with cursor.copy(self.sql) as copy:
            copy.write("".join(lines))


_MINUTES: dict[int, str] = {}


def _stamp(t: float) -> str:
    """Epoch seconds as PostgreSQL timestamptz text, fast (a cache of minute prefixes)."""
    minute = int(t // 60)
    prefix = _MINUTES.get(minute)
    if prefix is None:
        moment = datetime.fromtimestamp(minute * 60, UTC)
        prefix = _MINUTES[minute] = moment.strftime("%Y-%m-%d %H:%M:")
    micros = int((t - minute * 60) * 1_000_000)
    return f"{prefix}{micros // 1_000_000:02d}.{micros % 1_000_000:06d}+00"


def _moment(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def _text(value) -> str:
    """A value in COPY's text format (generated values hold no tab, newline or backslash)."""
    if value is None:
        return "\\N"
    if value is True or value is False:
        return "t" if value else "f"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


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
    for name, definition in indexes:
        progress(f"rebuilding index {name}")
        cursor.execute(definition)
    progress("restoring foreign keys")
    for table, name, definition in foreign:
        cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')


# --------------------------------------------------------------------- the whole run

CHUNK = 50_000


def generate(options: Options) -> dict[str, int]:
    """Generate options.count call records (and their bindings, events, recordings)."""
    rng = random.Random(options.seed)
    end = options.end or timezone.now()
    start = end - timedelta(days=options.days)
    accounts = prepare_accounts(wanted=max(1, options.accounts), rng=rng)
    per_account = min(options.count // 40 // len(accounts) + 1, 100_000)
    for account in accounts:
        make_bindings(account, count=per_account, start=start, rng=rng)
    recording = Recording(*sample_recording())
    callers = max(options.count // 20, 100)
    n = min(SHAPES, options.count)
    shapes = [call_shapes(a, rng, count=n, callers=callers) for a in accounts]
    records, events = Table(CallRecord, CALL_COLUMNS), Table(CallEvent, EVENT_COLUMNS)
    totals = {"records": 0, "events": 0}
    postgres = connection.vendor == "postgresql"
    with transaction.atomic(), connection.cursor() as wrapper:
        cursor = wrapper.cursor if postgres else wrapper  # psycopg's own, for COPY
        if postgres:
            cursor.execute(f"LOCK TABLE {TABLES[0]}, {TABLES[1]} IN EXCLUSIVE MODE")
        next_id = (CallRecord.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
        bare = postgres and options.count >= BARE_LOAD_THRESHOLD
        with bare_tables(cursor, TABLES, options.progress) if bare else _nothing():
            times = call_times(count=options.count, start=start, days=options.days, rng=rng)
            while True:
                chunk = _chunk(times, next_id, accounts, shapes, rng, recording)
                if not chunk:
                    break
                next_id += len(chunk)
                calls = [
                    e
                    for r in chunk
                    if rng.random() < options.events_share
                    for e in event_values(r, rng)
                ]
                records.write(cursor, chunk)
                events.write(cursor, calls)
                totals["records"] += len(chunk)
                totals["events"] += len(calls)
                if totals["records"] % 500_000 < CHUNK or totals["records"] == options.count:
                    options.progress(
                        f"{totals['records']:,} call records, {totals['events']:,} events"
                    )
        if postgres:
            for table in TABLES:
                statement = sql.SQL(
                    "SELECT setval(pg_get_serial_sequence({name}, 'id'), "
                    "(SELECT COALESCE(MAX(id), 1) FROM {table}))"
                ).format(name=sql.Literal(table), table=sql.Identifier(table))
                cursor.execute(statement)
    if postgres:
        options.progress("analyzing")
        with connection.cursor() as cursor:
            for table in TABLES:
                cursor.execute(f"ANALYZE {table}")
    return totals


def _chunk(times, next_id, accounts, shapes, rng, recording) -> list[list]:
    rows = []
    rand = rng.random
    n_accounts, n_shapes = len(accounts), len(shapes[0])
    for at in times:
        which = int(rand() * n_accounts)
        shape = shapes[which][int(rand() * n_shapes)]
        rows.append(call_values(next_id + len(rows), at, accounts[which], shape, recording))
        if len(rows) >= CHUNK:
            break
    return rows


@contextmanager
def _nothing():
    yield
