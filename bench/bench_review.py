"""Call-record review at ten million rows: list pages, number search, detail, API.

    .venv/bin/python bench/bench_review.py [--database ccp_bench10m] [--requests 20]
        [--depth 100] [--media /work/bench-media-10m] [--explain]

Reads the database made once by
`manage.py generate_call_records --count 10000000` (see bench/README-10m.txt); it only
adds a benchmark user (and its API token) there.  gunicorn (1 worker, 2 threads, DEBUG
off) serves the console on 127.0.0.1; each figure is the time to the whole response on
loopback (the server's time, plus well under a millisecond of loopback), median and p95
of --requests requests after two warm-up ones:

- list, first page: /calls/ (keyset page + estimated total);
- list, page 100 deep: the URL reached by following `next` --depth times, timed
  repeatedly (keyset: it costs what page 1 costs);
- list filtered by a complete number (a different caller each request), by an X
  number (a busy one: tens of thousands of calls each), by outcome
  and talk time sorted by duration, and by account, outcome and a start date;
- the API's first page and its page 100 deep;
- detail of a call (a different one each request; events, binding, deliveries).

Baselines from the same run: a bare view (/healthz), and the old list's two queries
run directly in PostgreSQL — COUNT(*) over the table and the page at OFFSET
(depth x 50), 5 times each.  Then the database size, and with --explain the plans
(EXPLAIN ANALYZE) of the list's queries.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _support import PG, ROOT, free_port, server_env, start_gunicorn, stop

USER = "bench-review"
PASSWORD = "bench-review-password-1"


def _manage_shell(env: dict[str, str], script: str) -> str:
    out = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip().splitlines()[-1]


def _setup_user(env: dict[str, str]) -> str:
    """The benchmark's business-staff user (masked numbers, as most users) and its token."""
    script = (
        "from django.contrib.auth.models import User, Group\n"
        "from rest_framework.authtoken.models import Token\n"
        f"u, _ = User.objects.get_or_create(username={USER!r})\n"
        f"u.set_password({PASSWORD!r}); u.save()\n"
        "u.groups.add(Group.objects.get(name='Business staff'))\n"
        "print(Token.objects.get_or_create(user=u)[0].key)"
    )
    return _manage_shell(env, script)


def _login(base: str):
    import requests

    session = requests.Session()
    page = session.get(f"{base}/login/", timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    answer = session.post(
        f"{base}/login/",
        data={"username": USER, "password": PASSWORD, "csrfmiddlewaretoken": token},
        headers={"Referer": f"{base}/login/"},
        timeout=30,
    )
    if "/login/" in answer.url:
        raise SystemExit("benchmark login failed")
    return session


def _timed(session, urls: list[str], **kwargs) -> list[float]:
    """Milliseconds per request (two warm-up requests first, not counted)."""
    for url in urls[:2]:
        session.get(url, timeout=120, **kwargs)
    times = []
    for url in urls:
        started = time.perf_counter()
        response = session.get(url, timeout=120, **kwargs)
        times.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{url}: HTTP {response.status_code}")
    return times


def _line(label: str, times: list[float], target: float | None = None) -> None:
    p95 = sorted(times)[max(0, round(0.95 * len(times)) - 1)]
    median = statistics.median(times)
    verdict = ""
    if target is not None:
        verdict = f"  (target < {target:.0f} ms: {'met' if p95 < target else 'NOT met'} at p95)"
    print(f"  {label:<44} median {median:8.1f} ms   p95 {p95:8.1f} ms{verdict}")


def _next(html: str) -> str | None:
    found = re.search(r'href="\?([^"]+)" rel="next"', html)
    return found.group(1).replace("&amp;", "&") if found else None


def _deep_page(session, base: str, depth: int) -> str:
    url = f"{base}/calls/"
    for _ in range(depth):
        query = _next(session.get(url, timeout=120).text)
        if query is None:
            raise SystemExit(f"the list ended before page {depth + 1}")
        url = f"{base}/calls/?{query}"
    return url


def _deep_api(session, base: str, depth: int, headers: dict[str, str]) -> str:
    url = f"{base}/api/v1/call-records/"
    for _ in range(depth):
        url = session.get(url, timeout=120, headers=headers).json()["next"]
    return url


def _sql_baselines(dsn: str, depth: int, explain: bool) -> dict[str, object]:
    import psycopg

    figures: dict[str, object] = {}
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT caller, id, x_number FROM callbacks_callrecord"
            " TABLESAMPLE SYSTEM (0.05) LIMIT 400"
        ).fetchall()
        figures["callers"] = [r[0] for r in rows]
        figures["ids"] = [r[1] for r in rows]
        figures["x_numbers"] = [r[2] for r in rows if r[2]]
        for name, sql in (
            ("old list: COUNT(*)", "SELECT count(*) FROM callbacks_callrecord"),
            (
                f"old list: page {depth + 1} by OFFSET",
                "SELECT * FROM callbacks_callrecord ORDER BY call_at DESC, id DESC "
                f"LIMIT 50 OFFSET {depth * 50}",
            ),
        ):
            times = []
            for _ in range(5):
                started = time.perf_counter()
                conn.execute(sql).fetchall()
                times.append((time.perf_counter() - started) * 1000)
            figures[name] = times
        size = conn.execute(
            "SELECT pg_size_pretty(pg_database_size(current_database())), "
            "pg_size_pretty(pg_total_relation_size('callbacks_callrecord')), "
            "pg_size_pretty(pg_indexes_size('callbacks_callrecord')), "
            "pg_size_pretty(pg_total_relation_size('callbacks_callevent')), "
            "(SELECT reltuples::bigint FROM pg_class WHERE relname = 'callbacks_callrecord'),"
            "(SELECT reltuples::bigint FROM pg_class WHERE relname = 'callbacks_callevent')"
        ).fetchone()
        figures["size"] = size
        if explain:
            figures["plans"] = _plans(conn, figures["callers"][0])
    return figures


def _plans(conn, number: str) -> list[tuple[str, str]]:
    queries = {
        "first page": "ORDER BY call_at DESC, id DESC LIMIT 51",
        "a complete number": (
            "WHERE caller = %(n)s OR callee = %(n)s OR x_number = %(n)s "
            "ORDER BY call_at DESC, id DESC LIMIT 51"
        ),
        "digits of a number (operators)": (
            "WHERE caller LIKE %(f)s OR callee LIKE %(f)s OR x_number LIKE %(f)s "
            "ORDER BY call_at DESC, id DESC LIMIT 51"
        ),
        "answered >= 10 min, longest first": (
            "WHERE outcome = 'answered' AND duration >= 600 "
            "ORDER BY duration DESC, id DESC LIMIT 51"
        ),
    }
    plans = []
    for label, tail in queries.items():
        sql = f"EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM callbacks_callrecord {tail}"
        rows = conn.execute(sql, {"n": number, "f": f"%{number[-7:]}%"}).fetchall()
        plans.append((label, "\n".join(r[0] for r in rows)))
    return plans


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="ccp_bench10m")
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--depth", type=int, default=100)
    parser.add_argument("--media", default="/work/bench-media-10m")
    parser.add_argument("--explain", action="store_true")
    args = parser.parse_args()

    env = server_env(args.database, MEDIA_ROOT=args.media)
    token = _setup_user(env)
    figures = _sql_baselines(f"{PG}/{args.database}", args.depth, args.explain)
    port = free_port()
    server = start_gunicorn(env, port, workers=1, threads=2, quiet=True)
    try:
        base = f"http://127.0.0.1:{port}"
        session = _login(base)
        api = {"Authorization": f"Token {token}"}
        n = args.requests
        rng = random.Random(1)
        callers = rng.sample(figures["callers"], n)
        x_numbers = rng.sample(figures["x_numbers"], min(n, len(figures["x_numbers"])))
        ids = rng.sample(figures["ids"], n)
        deep = _deep_page(session, base, args.depth)
        since = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 20 * 86400))
        deep_api = _deep_api(session, base, args.depth, api)
        print(f"call records: about {figures['size'][4]:,}; events: {figures['size'][5]:,}")
        print(f"server: gunicorn 1 worker x 2 threads; {n} requests each (median, p95)")
        _line("baseline: bare view /healthz", _timed(session, [f"{base}/healthz"] * n))
        _line("list, first page", _timed(session, [f"{base}/calls/"] * n), 150)
        _line(f"list, page {args.depth + 1} (keyset)", _timed(session, [deep] * n), 150)
        _line(
            "list, a complete number (q=)",
            _timed(session, [f"{base}/calls/?q={c.replace('+', '%2B')}" for c in callers]),
            150,
        )
        _line(
            "list, an X number (q=)",
            _timed(session, [f"{base}/calls/?q={x.replace('+', '%2B')}" for x in x_numbers]),
            150,
        )
        _line(
            "list, answered >= 10 min, longest first",
            _timed(
                session, [f"{base}/calls/?outcome=answered&duration_min=600&sort=-duration"] * n
            ),
            150,
        )
        _line(
            "list, one account's busy calls, from a date",
            _timed(session, [f"{base}/calls/?vendor_account=1&outcome=busy&date_from={since}"] * n),
            150,
        )
        _line("API, first page", _timed(session, [f"{base}/api/v1/call-records/"] * n, headers=api))
        _line(f"API, page {args.depth + 1}", _timed(session, [deep_api] * n, headers=api))
        _line("detail", _timed(session, [f"{base}/calls/{pk}/" for pk in ids]))
        for name in ("old list: COUNT(*)", f"old list: page {args.depth + 1} by OFFSET"):
            _line(f"baseline (SQL, 5 runs): {name}", figures[name])
        size = figures["size"]
        print(
            f"database size {size[0]}; call records {size[1]} (indexes {size[2]}); events {size[3]}"
        )
        for label, plan in figures.get("plans", []):
            print(f"\nEXPLAIN ANALYZE — {label}:\n{plan}")
    finally:
        stop(server)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
