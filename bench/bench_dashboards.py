"""The call dashboard at ten million calls, and the rollup refresh under CDR load.

    .venv/bin/python bench/bench_dashboards.py [--part dashboard|refresh|all]
        [--database ccp_bench10m] [--rebuild] [--requests 20] [--seconds 60]

Part "dashboard" (on the 10M-row database that `generate_call_records --count
10000000` filled; its name by --database):
1. migrates it (adds the rollup tables and CallRecord's updated_at index) and, with
   --rebuild or when the rollups are empty, times `manage.py rebuild_rollups`;
2. times --requests GETs (Django's test client in this process: server time, no
   network) of the dashboard page and of /api/v1/stats/ for the last 30 days across
   all accounts, as a logged-in business-staff user: median and p95, with the figures
   cached (the cache of this environment: Redis with REDIS_URL) and as the first view
   after a rollup refresh (the rollups' version renewed before each request); and of
   the X-number health page (/calls/health/);
3. baseline in the same run: the same figures (totals, outcomes, calls per day, busiest
   X numbers, both periods) aggregated from the raw call records, 3 runs.

Part "refresh" (a throwaway database, dropped at the end):
1. migrates it, adds one igw account and preloads the last 2 hours with calls at the
   ingest rate (200/s: 1.44M rows, generated in SQL);
2. baseline: rollup_refresh_recent() (the beat job: the last 2 hours) with no load;
3. starts gunicorn (3 workers) and a Celery worker (threads, on a queue of this run's
   own over Redis at BENCH_REDIS, default redis://127.0.0.1:6379/13) and posts igw
   CDRs to the webhook at a fixed 200/s (open loop, bench/bench_callbacks.py's driver)
   for --seconds: the webhook stores each delivery and rings for the normalizer, the
   worker turns them into call records, as in production; the refresh runs every
   10 s meanwhile: refresh time median/p95, the webhook's p50/p99 during it, and how
   many of the posted CDRs had become call records when the posting ended and 30 s
   later.

Figures print with the machine's CPU count and load average (2 shared cores here).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _support import PG, admin_sql, free_port, server_env, start_gunicorn, stop  # noqa: E402


def _percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"median {statistics.median(ordered):8.1f} ms   p95 {p95:8.1f} ms   (n={len(ordered)})"


def _setup_django(database: str) -> None:
    # testserver: the host name of Django's test client, which the dashboard part uses.
    os.environ.update(
        server_env(database, DB_CONN_MAX_AGE="60", ALLOWED_HOSTS="127.0.0.1,localhost,testserver")
    )
    import django

    django.setup()


def _timed(fn, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return times


# ------------------------------------------------------------------ part: dashboard


def _raw_figures(start, end, previous_start) -> None:
    """The dashboard's figures straight from CallRecord: the baseline."""
    from django.db.models import Count, Q, Sum
    from django.db.models.functions import TruncDay

    from callbacks.models import CallRecord

    rows = CallRecord.objects.filter(call_at__gte=previous_start, call_at__lt=end).order_by()
    answered = Q(outcome="answered")
    list(
        rows.annotate(day=TruncDay("call_at"))
        .values("day", "outcome")
        .annotate(calls=Count("*"), answered=Count("pk", filter=answered))
        .annotate(talk=Sum("duration", filter=answered))
    )
    list(
        rows.filter(call_at__gte=start)
        .exclude(x_number="")
        .values("x_number")
        .annotate(calls=Count("*"))
        .order_by("-calls")[:10]
    )


def part_dashboard(args) -> None:
    from django.core.management import call_command

    from callbacks.models import CallHourStat, CallRecord
    from tests.factories import UserFactory

    print(f"database {args.database}: migrating (rollup tables, updated_at index)")
    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    print(f"  migrate: {time.perf_counter() - started:.1f} s")
    records = CallRecord.objects.count()
    if args.rebuild or not CallHourStat.objects.exists():
        started = time.perf_counter()
        call_command("rebuild_rollups", stdout=open(os.devnull, "w"))  # noqa: SIM115
        print(f"  rebuild_rollups (all {records:,} records): {time.perf_counter() - started:.1f} s")
    print(f"  call records {records:,}; CallHourStat rows {CallHourStat.objects.count():,}")

    user = UserFactory(username=f"bench-staff-{os.getpid()}", roles=["Business staff"])
    try:
        _time_pages(args, user)
    finally:
        user.delete()


def _time_pages(args, user) -> None:
    from django.core.cache import cache
    from django.test import Client

    from callbacks import rollups, stats
    from callbacks.dashboard import StatsForm, stats_query

    client = Client()
    client.force_login(user)
    query = {"period": "30d"}
    results = {}

    def after_refresh(url):
        # What the first view after a rollup refresh pays: a new version, nothing cached.
        cache.delete(rollups.VERSION_KEY)
        return client.get(url, query)

    for name, url in (
        ("dashboard page", "/calls/dashboard/"),
        ("API /api/v1/stats/", "/api/v1/stats/"),
    ):
        assert client.get(url, query).status_code == 200  # warm
        results[f"{name}, cached"] = _timed(lambda url=url: client.get(url, query), args.requests)
        results[f"{name}, after a refresh"] = _timed(
            lambda url=url: after_refresh(url), args.requests
        )
    assert client.get("/calls/health/").status_code == 200
    results["X-number health page"] = _timed(lambda: client.get("/calls/health/"), args.requests)
    form = StatsForm(query)
    assert form.is_valid()
    period = stats_query(form)["period"]
    results["stats selectors only"] = _timed(
        lambda: stats.dashboard_stats(period=period), args.requests
    )
    previous = period.previous()
    results["baseline: raw call records"] = _timed(
        lambda: _raw_figures(period.start, period.end, previous.start), 3
    )
    print(
        f"\n30 days across all accounts "
        f"({period.start:%Y-%m-%d %H:%M} – {period.end:%Y-%m-%d %H:%M} UTC):"
    )
    for name, samples in results.items():
        print(f"  {name:<40} {_percentiles(samples)}")


# ------------------------------------------------------------------ part: refresh

REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/13")


def _start_worker(env: dict[str, str], queue: str) -> subprocess.Popen:
    """A Celery worker (threads) consuming only `queue`: the normalizer's tasks."""
    from ccp_console.celery import worker_argv

    return subprocess.Popen(
        worker_argv(queue, concurrency=2, loglevel="WARNING"), cwd=ROOT, env=env
    )


def _preload(account, *, rate: float, now, seconds: int = 7200) -> int:
    """Calls at `rate`/s over the `seconds` before `now`, in one INSERT ... SELECT."""
    from django.db import connection

    from callbacks.models import CallRecord

    count = int(rate * seconds)
    values = {
        "vendor_account_id": "%s",
        "vendor": "'igw'",
        "call_id": "'pre-' || g",
        "caller": "'+86138' || lpad(mod(g, 100000000)::text, 8, '0')",
        "callee": "'+86139' || lpad(mod(g, 99999989)::text, 8, '0')",
        "x_number": "'+861700000' || lpad(mod(g, 160)::text, 4, '0')",
        # 4 in 7 answered, then busy, no answer, failed.
        "outcome": "(ARRAY['answered','answered','answered','answered',"
        "'busy','no_answer','failed'])[1 + mod(g, 7)]",
        "call_at": f"%s - make_interval(secs => g * {seconds}.0 / %s)",
        "duration": "CASE WHEN mod(g, 7) < 4 THEN 10 + mod(g, 300) ELSE 0 END",
        "has_cdr": "true",
        "raw": "'{}'::jsonb",
    }
    columns, exprs, params = [], [], []
    for field in CallRecord._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(connection.ops.quote_name(field.column))
        if field.attname in values:
            exprs.append(values[field.attname])
            params += [account.pk] if field.attname == "vendor_account_id" else []
            params += [now, count] if field.attname == "call_at" else []
        elif field.attname in ("first_seen_at", "updated_at", "cdr_received_at"):
            # Stored as the CDR arrives, a minute and a half after the call began.
            exprs.append(f"%s - make_interval(secs => g * {seconds}.0 / %s - 90)")
            params += [now, count]
        else:
            exprs.append("%s")
            params.append(field.get_db_prep_save(field.get_default(), connection))
    sql = (
        f"INSERT INTO {CallRecord._meta.db_table} ({', '.join(columns)}) "
        f"SELECT {', '.join(exprs)} FROM generate_series(1, %s) g"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, count])
    return count


def _synthetic(count: int) -> None:
    """4 igw accounts, each with `count` / 4 calls over the last 30 days on 40 X numbers
    (the generator's shape: the rollups are as large as at 10M calls)."""
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from accounts.models import VendorAccount

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    for n in range(4):
        account = VendorAccount.objects.create(
            vendor="igw",
            name=f"bench-{n}",
            base_url="https://igw.example.com",
            account_id=f"1000000{n}",
            secret="k",
            app_id=f"app-00{n}",
        )
        _preload(account, rate=count / 4 / (30 * 86400), now=timezone.now(), seconds=30 * 86400)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"synthetic: {count:,} calls over 30 days in {time.perf_counter() - started:.0f} s")


def part_refresh(args) -> None:
    import bench_callbacks
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from accounts.models import VendorAccount
    from callbacks import rollups
    from callbacks.models import CallRecord

    call_command("migrate", verbosity=0)
    account = VendorAccount.objects.create(
        vendor="igw",
        name="bench",
        base_url="https://igw.example.com",
        account_id="10000000",
        secret="k",
        app_id="app-001",
    )
    started = time.perf_counter()
    rows = _preload(account, rate=args.rate, now=timezone.now())
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(
        f"preloaded {rows:,} calls over the last 2 hours in {time.perf_counter() - started:.0f} s"
    )

    def beat() -> float:
        begun = time.perf_counter()
        rollups.rollup_refresh_recent()
        return (time.perf_counter() - begun) * 1000

    def two_hours() -> float:
        begun = time.perf_counter()
        now = timezone.now()
        assert rollups.rollup_refresh(since=now - rollups.HOUR * 2, until=now) > 0
        return (time.perf_counter() - begun) * 1000

    beat()  # sets the watermark
    idle = {"beat": [beat() for _ in range(3)], "two": [two_hours() for _ in range(3)]}
    port = free_port()
    queue = f"bench-dashboards-{os.getpid()}"
    env = {**os.environ, "CELERY_BROKER_URL": REDIS, "CELERY_TASK_DEFAULT_QUEUE": queue}
    server = start_gunicorn(env, port, workers=3, threads=1, quiet=True)
    worker = _start_worker(env, queue)
    busy: dict[str, list[float]] = {"beat": [], "two": []}
    load: dict = {}
    before = CallRecord.objects.count()
    try:
        sender = threading.Thread(
            target=lambda: load.update(
                bench_callbacks.fixed_rate(
                    port,
                    f"/callbacks/{account.webhook_token}/cdr/",
                    rate=args.rate,
                    seconds=args.seconds,
                    prefix=f"r{int(time.time())}",
                )
            )
        )
        sender.start()
        turn = 0
        while sender.is_alive():
            time.sleep(10)
            if sender.is_alive():
                kind = ("beat", "two")[turn % 2]
                busy[kind].append(beat() if kind == "beat" else two_hours())
                turn += 1
        sender.join()
        normalized = [CallRecord.objects.count() - before]
        time.sleep(30)
        normalized.append(CallRecord.objects.count() - before)
    finally:
        stop(server)
        stop(worker)
    names = {
        "beat": "beat job (current hour + changed hours)",
        "two": "the last 2 whole hours",
    }
    print(f"\nrollup refresh with {rows:,} calls in the last 2 hours:")
    for kind, label in names.items():
        print(f"  {label}")
        print(f"    idle (baseline)           {_percentiles(idle[kind])}")
        if busy[kind]:
            print(f"    during {args.rate} CDR/s ingest   {_percentiles(busy[kind])}")
    print(
        f"  webhook during it: {load.get('rps', 0):.0f} req/s sent, "
        f"p50 {load.get('p50', 0):.1f} ms, "
        f"p99 {load.get('p99', 0):.1f} ms, non-2xx {load.get('non_2xx')}"
    )
    print(
        f"  call records the worker made from the {load.get('requests', 0):,} CDRs posted: "
        f"{normalized[0]:,} when the posting ended, {normalized[1]:,} 30 s later"
    )


# ------------------------------------------------------------------ main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--part", choices=["dashboard", "refresh", "all"], default="all")
    parser.add_argument("--database", default="ccp_bench10m")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the rollups first")
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument(
        "--synthetic",
        type=int,
        default=0,
        help="dashboard part on a throwaway database of this many calls over 30 days "
        "(4 accounts x 40 X numbers) instead of --database",
    )
    args = parser.parse_args()
    args.seconds = max(10, min(args.seconds, 300))
    load = os.getloadavg()
    print(
        f"bench_dashboards: {os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f}, "
        f"PostgreSQL at {PG}"
    )
    if args.part == "all":
        common = ["--database", args.database, "--requests", str(args.requests)]
        common += ["--seconds", str(args.seconds), "--rate", str(args.rate)]
        common += ["--rebuild"] if args.rebuild else []
        for part in ("dashboard", "refresh"):
            subprocess.run([sys.executable, __file__, "--part", part, *common], check=True)
        return
    if args.part == "dashboard" and not args.synthetic:
        _setup_django(args.database)
        part_dashboard(args)
        return
    if args.part == "dashboard":  # on a throwaway database of --synthetic calls
        db = f"ccp_bench_dashboards_{os.getpid()}"
        admin_sql(f"CREATE DATABASE {db}")
        try:
            _setup_django(db)
            _synthetic(args.synthetic)
            part_dashboard(args)
        finally:
            from django.db import connections

            connections.close_all()
            admin_sql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        return
    db = f"ccp_bench_dashboards_{os.getpid()}"
    admin_sql(f"CREATE DATABASE {db}")
    try:
        _setup_django(db)
        part_refresh(args)
    finally:
        from django.db import connections

        connections.close_all()
        admin_sql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
    load = os.getloadavg()
    print(f"load average after: {load[0]:.2f}")


if __name__ == "__main__":
    main()
