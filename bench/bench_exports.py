"""CSV export of 1,000,000 call records: rows per second and peak RSS.

    .venv/bin/python bench/bench_exports.py [--rows 1000000] [--database NAME] [--reseed]

Source rows: the 10M-row database ccp_bench10m (manage.py generate_call_records,
read only here) when it exists with at least --rows rows; otherwise a database of
this benchmark's own, ccp_exports_bench, migrated and seeded once with --rows calls by
one INSERT ... SELECT over generate_series (kept for the next run; --reseed redoes
it). Nothing is written to the source database.

The export is the first --rows calls in call time: the list's filter set with
`date_to` at the --rows-th call, as a user would ask for it. Measured in the same run:

1. Baseline: PostgreSQL's own `COPY (SELECT the same columns, same join, same order)
   TO STDOUT WITH CSV`, read by psycopg and thrown away: the ceiling.
2. The export: callbacks.exports.csv_chunks (keyset batches, masking, formula
   defusing, times with their offset), encoded to UTF-8 and thrown away, in a child
   process, once as a user who sees masked numbers and once as one who sees them
   whole. Printed: rows/s of wall time, rows per CPU-second of that process (a figure
   a busy machine distorts less), and its peak RSS (ru_maxrss). Targets: >= 50,000
   rows/s, < 200 MB. The load average is printed: on a shared machine, read the
   export's rows/s against the COPY baseline of the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

from _support import PG, ROOT, admin_sql, server_env

TEN_M = "ccp_bench10m"
OWN = "ccp_exports_bench"

# Mirrors the columns callbacks.exports reads, for the COPY baseline.
COPY_SQL = """
COPY (SELECT r.id, a.name, r.vendor, r.call_id, r.call_at, r.caller, r.callee, r.x_number,
             r.outcome, r.raw_code, r.raw_text, r.begin_at, r.ring_at, r.answer_at,
             r.release_at, r.duration, r.release_side, r.recording_status, r.binding_id
      FROM callbacks_callrecord r JOIN accounts_vendoraccount a ON a.id = r.vendor_account_id
      WHERE r.call_at <= %s ORDER BY r.call_at, r.id) TO STDOUT WITH CSV
"""

# Calls over 30 days: callers from a pool of rows/20 (they come back), callees mostly
# new, X numbers from a pool of 40, a realistic outcome mix, some free text with a number.
SEED_SQL = """
INSERT INTO callbacks_callrecord (
  vendor_account_id, vendor, call_id, vendor_binding_id, caller, callee, x_number, outcome,
  raw_code, raw_text, begin_at, ring_at, answer_at, release_at, call_at, duration,
  release_side, user_data, raw, has_cdr, cdr_received_at, first_seen_at, updated_at,
  recording_url, recording_status, recording_file, recording_sha256,
  recording_content_type, recording_attempts, recording_last_error)
SELECT %(account)s, 'igw', 'bench-' || g, '',
  '+86138' || lpad((abs(hashint4(g)::bigint) %% %(callers)s)::text, 8, '0'),
  '+86139' || lpad((abs(hashint4(g + 7)::bigint) %% 100000000)::text, 8, '0'),
  '+86170' || lpad((abs(hashint4(g + 13)::bigint) %% 40)::text, 8, '0'),
  o.outcome, o.code, o.text,
  t, t + interval '2 seconds', CASE WHEN o.outcome = 'answered' THEN t + interval '9 seconds' END,
  t + interval '70 seconds', t, CASE WHEN o.outcome = 'answered' THEN 61 ELSE 0 END,
  'caller', '', '{}'::jsonb, true, t + interval '75 seconds', t, t,
  '', 'none', '', '', '', 0, ''
FROM generate_series(1, %(rows)s) AS g
CROSS JOIN LATERAL (
  SELECT timestamptz '2026-10-01 00:00+00' + g * (interval '30 days' / %(rows)s) AS t) AS tt
CROSS JOIN LATERAL (
  SELECT * FROM (VALUES
    (0, 'answered', '0', 'normal clearing'),
    (1, 'busy', '17', 'user busy'),
    (2, 'no_answer', '19', 'no answer from 13900139000'),
    (3, 'rejected', '21', 'call rejected'),
    (4, 'answered', '0', ''))
  AS v(k, outcome, code, text) WHERE v.k = abs(hashint4(g + 3)::bigint) %% 5) AS o
"""


def _count(database: str) -> int:
    import psycopg

    try:
        with psycopg.connect(f"{PG}/{database}") as conn:
            # A database still being generated holds its table locked: not ready.
            conn.execute("SET lock_timeout = '2s'")
            return conn.execute("SELECT count(*) FROM callbacks_callrecord").fetchone()[0]
    except psycopg.Error:
        return 0


def _django(database: str, code: str) -> str:
    env = server_env(database)
    out = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()\n" + code],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout


def seed(rows: int) -> None:
    """ccp_exports_bench: migrated, one igw account, `rows` calls, ANALYZEd."""
    import psycopg

    admin_sql(f"DROP DATABASE IF EXISTS {OWN}")
    admin_sql(f"CREATE DATABASE {OWN}")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env=server_env(OWN),
        check=True,
    )
    account = _django(
        OWN,
        "from tests.factories import VendorAccountFactory\n"
        "print(VendorAccountFactory(vendor='igw', name='bench igw').pk)",
    ).strip()
    started = time.perf_counter()
    with psycopg.connect(f"{PG}/{OWN}", autocommit=True) as conn:
        conn.execute(SEED_SQL, {"account": int(account), "rows": rows, "callers": rows // 20})
        conn.execute("ANALYZE callbacks_callrecord")
    print(f"seeded {rows:,} calls into {OWN} in {time.perf_counter() - started:.1f} s")


def bound(database: str, rows: int) -> str:
    """The call time of the rows-th call: `date_to` for an export of exactly that many."""
    import psycopg

    with psycopg.connect(f"{PG}/{database}") as conn:
        at = conn.execute(
            "SELECT call_at FROM callbacks_callrecord ORDER BY call_at, id OFFSET %s LIMIT 1",
            [rows - 1],
        ).fetchone()[0]
    return at.isoformat()


def baseline(database: str, until: str) -> tuple[int, float]:
    import psycopg

    rows = 0
    with psycopg.connect(f"{PG}/{database}") as conn, conn.cursor() as cur:
        started = time.perf_counter()
        with cur.copy(COPY_SQL, [until]) as copy:
            for data in copy:
                rows += bytes(data).count(b"\n")
        return rows, time.perf_counter() - started


def child(until: str, full: bool) -> None:
    """In the child: the export itself, timed, then its figures as JSON on stdout."""
    import django

    django.setup()
    from callbacks import exports, selectors

    class Viewer:  # a user without rows in the database: nothing is written
        def has_perm(self, perm: str) -> bool:
            return full and perm == "accounts.view_full_numbers"

    viewer = Viewer()
    records = selectors.call_record_list(filters={"date_to": until}, user=viewer)
    rows = size = 0
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = usage.ru_utime + usage.ru_stime
    started = time.perf_counter()
    for text, count in exports.csv_chunks(records, user=viewer):
        size += len(text.encode("utf-8"))
        rows += count
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime - cpu_before
    figures = {"rows": rows, "seconds": seconds, "cpu": cpu, "bytes": size}
    print(json.dumps({**figures, "peak_kb": usage.ru_maxrss}))


def export(database: str, until: str, *, full: bool) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", until, "--full", "1" if full else "0"],
        cwd=ROOT,
        env={**server_env(database), "PYTHONPATH": f"{ROOT}:{ROOT / 'bench'}"},
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--database", default="")
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--full", default="0", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.full == "1")
        return

    database = args.database
    if not database:
        database = TEN_M if _count(TEN_M) >= args.rows else OWN
    if database == OWN and (args.reseed or _count(OWN) < args.rows):
        seed(args.rows)
    total = _count(database)
    until = bound(database, args.rows)
    print(f"source: {database} ({total:,} call records); export: calls up to {until}")
    print(f"load: {os.getloadavg()[0]:.2f} (1-min) on {os.cpu_count()} cores")

    rows, seconds = baseline(database, until)
    print(
        f"baseline COPY ... TO STDOUT CSV: {rows:,} rows in {seconds:.2f} s = "
        f"{rows / seconds:,.0f} rows/s"
    )
    for full in (False, True):
        got = export(database, until, full=full)
        who = "whole numbers" if full else "masked numbers"
        print(
            f"export ({who}): {got['rows']:,} rows, {got['bytes'] / 1e6:.0f} MB in "
            f"{got['seconds']:.2f} s = {got['rows'] / got['seconds']:,.0f} rows/s "
            f"({got['rows'] / got['cpu']:,.0f} rows per CPU-second of the exporting process), "
            f"peak RSS {got['peak_kb'] / 1024:.0f} MB"
        )
    print("targets: >= 50,000 rows/s, peak RSS < 200 MB")


if __name__ == "__main__":
    main()
