"""CDR ingest end to end: the webhook against two baselines, normalization,
a sustained run with its backlog and lag, and what a CDR costs the database.

    .venv/bin/python bench/bench_callbacks.py --redis redis://127.0.0.1:6379/<own db>
        [--seconds 10] [--rounds 3] [--sustain-seconds 60] [--workers 3] [--threads 4]

A quick run: --seconds 3 --rounds 1 --sustain-seconds 10 --cost-cdrs 300 (~1 min).
The default takes ~5 minutes.  Other work on the machine moves the figures:
the load averages are printed; compare ratios measured in the same run.

What it does, all on 127.0.0.1, bounded in time and count:
1. creates a throwaway PostgreSQL database (dropped at the end), migrates it,
   and adds one igw VendorAccount;
2. starts gunicorn (gthread, keep-alive) serving the real project plus two
   bench-only views defined in THIS module's urlconf, never in the product:
     /bench/bare    answers 200 without touching the database (the ceiling);
     /bench/insert  one INSERT of the body into a bench table (the floor of
                    "store a delivery");
3. saturates each with wrk (closed loop, --latency) when installed, else with
   Python threads on keep-alive http.client connections, --rounds times back to
   back (medians; the webhook / single-INSERT ratio is the median of the
   rounds' ratios, each measured minutes apart at most);
4. sends igw §5.1 form-encoded CDRs (unique taskid each, no recording) to the
   webhook at a fixed 200/s, open loop, latency measured from the scheduled
   send time (so a stall counts against us, no coordinated omission);
5. drains the backlog those phases queued with 1, then 2 normalization
   processes (deliveries/s);
6. costs per CDR and per event (`per_cdr_costs`, in a Django shell on the bench
   database): statements and round trips counted with connection.execute_wrapper
   (a transaction adds BEGIN and COMMIT), WAL bytes from pg_walinspect filtered
   on the bench database (the server is shared; its total is printed too), for
   the webhook, normalization delivery by delivery (the per-item path, as before
   batches) and in batches;
7. table growth: pg_total_relation_size of deliveries, call records and events
   (indexes and TOAST included) per row, and per million calls;
8. starts a Celery worker (prefork, --normalizers processes) on the --redis
   database, sends CDRs at --sustain-share (80 %) of the saturated webhook rate
   for --sustain-seconds while sampling the backlog of queued deliveries every
   0.5 s, then times its drain; the lag from arrival to normalized
   (processed_at - received_at: both set by the console, the record commits
   with processed_at) as p50/p99;
9. prints the figures with the machine's CPU count and load averages.

The gunicorn worker imports this module with BENCH_CALLBACKS_WORKER=1: then it
sets ROOT_URLCONF to this module and exposes `application`.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import queue
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.payloads import igw_call_start, igw_cdr  # noqa: E402  (Django-free: what igw POSTs)

# ---------------------------------------------------------------------- worker side

if os.environ.get("BENCH_CALLBACKS_WORKER") == "1":
    import django

    django.setup()
    from django.conf import settings
    from django.core.wsgi import get_wsgi_application
    from django.db import connection
    from django.http import HttpResponse
    from django.urls import include, path
    from django.views.decorators.csrf import csrf_exempt

    @csrf_exempt
    def bare(request):
        return HttpResponse(b'{"error":0}', content_type="application/json")

    @csrf_exempt
    def insert(request):
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO bench_insert (body, at) VALUES (%s, now())", [request.body])
        return HttpResponse(b'{"error":0}', content_type="application/json")

    urlpatterns = [
        path("bench/bare", bare),
        path("bench/insert", insert),
        path("", include("ccp_console.urls")),
    ]
    settings.ROOT_URLCONF = __name__
    application = get_wsgi_application()


# ---------------------------------------------------------------------- driver side


def _run(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(args, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def _setup_database(env: dict[str, str]) -> dict[str, str]:
    python = sys.executable
    _run([python, "manage.py", "migrate", "-v0"], env)
    script = (
        "from accounts.models import VendorAccount;"
        "from django.db import connection;"
        "a = VendorAccount.objects.create(vendor='igw', name='bench', "
        "base_url='https://igw.example.com', account_id='10000000', secret='k', app_id='app-001');"
        "connection.cursor().execute('CREATE TABLE bench_insert "
        "(id bigserial primary key, body bytea, at timestamptz)');"
        "print(a.webhook_token)"
    )
    token = _run([python, "manage.py", "shell", "-c", script], env).strip().splitlines()[-1]
    return {"token": token}


def _count(env: dict[str, str], sql: str) -> str:
    script = (
        "from django.db import connection;c = connection.cursor();"
        f"c.execute({sql!r});print(json.dumps(c.fetchall()))"
    )
    out = _run([sys.executable, "manage.py", "shell", "-c", "import json;" + script], env)
    return out.strip().splitlines()[-1]


def cdr_body(taskid: str) -> str:
    begin = int(time.time()) - 90
    times = {"beginTime": begin, "ringTime": begin + 3, "answerTime": begin + 8}
    return urlencode(
        igw_cdr(taskid=taskid, subid="sub-bench", userData="bench", **times, releaseTime=begin + 68)
    )


FORM = "application/x-www-form-urlencoded"

# One normalization process: drains the inbox's queue batch by batch and prints
# (deliveries, start, end) in wall-clock seconds, start taken after Django's setup.
DRAIN = (
    "import json, time\n"
    "from callbacks.queue import deliveries_normalize\n"
    "n, start = 0, time.time()\n"
    "while True:\n"
    "    k = deliveries_normalize()\n"
    "    n += k\n"
    "    if k == 0:\n"
    "        break\n"
    "print(json.dumps([n, start, time.time()]))\n"
)
RESET = (
    "from django.db import connection\n"
    "c = connection.cursor()\n"
    "c.execute('TRUNCATE callbacks_callevent, callbacks_callrecord CASCADE')\n"
    "c.execute(\"UPDATE callbacks_delivery SET outcome = 'received' "
    "WHERE outcome IN ('accepted', 'duplicate')\")\n"
)


def normalization(env: dict[str, str], processes: int) -> dict[str, float]:
    """Deliveries normalized per second by `processes` drainers sharing the queue."""
    runs = [
        subprocess.Popen(
            [sys.executable, "manage.py", "shell", "-c", DRAIN],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    spans = [json.loads(run.communicate()[0].strip().splitlines()[-1]) for run in runs]
    total = sum(n for n, _, _ in spans)
    seconds = max(end for _, _, end in spans) - min(start for _, start, _ in spans)
    return {"deliveries": total, "seconds": seconds, "rate": total / max(seconds, 1e-9)}


# ------------------------------------------------------------ costs per CDR

# Runs inside `manage.py shell` on the bench database (Django set up, the queue
# empty): statements, round trips and WAL bytes per CDR for the webhook and for
# normalization delivery by delivery (the per-item path, as before batches) and
# in batches (apply_batch), then per call-start event.  Prints one JSON line.
COSTS = "from bench.bench_callbacks import per_cdr_costs; per_cdr_costs({n}, {token!r})"


class _Statements:
    """connection.execute_wrapper counting statements and transactions."""

    def __init__(self):
        self.statements = 0

    def __call__(self, execute, sql, params, many, context):
        self.statements += 1
        return execute(sql, params, many, context)


def _wal_position(cursor) -> str:
    cursor.execute("SELECT pg_current_wal_insert_lsn()")
    return cursor.fetchone()[0]


def _wal_bytes(cursor, start: str) -> tuple[int, int, int]:
    """WAL written since `start`: this database's records without and with their
    full-page images, and the whole server's bytes.

    The server is shared (other databases write too): pg_walinspect's records
    are filtered on this database's OID (block references) and the transactions
    that touched it (their commit records).  Full-page images follow checkpoints,
    which other databases' writes trigger too: the figure without them is the
    one to compare.

    Batches commit without waiting for the flush (synchronous_commit off), so
    their last records may not be on disk yet: read up to where the work's WAL
    ends, once the WAL writer has flushed that far (pg_walinspect reads only
    flushed WAL)."""
    end = _wal_position(cursor)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        cursor.execute("SELECT pg_wal_lsn_diff(pg_current_wal_flush_lsn(), %s) >= 0", [end])
        if cursor.fetchone()[0]:
            break
        time.sleep(0.05)
    cursor.execute(
        "WITH r AS (SELECT * FROM pg_get_wal_records_info(%s, %s)),"
        " mine AS (SELECT DISTINCT xid FROM r WHERE xid <> '0' AND block_ref LIKE %s),"
        " own AS (SELECT * FROM r WHERE block_ref LIKE %s OR xid IN (SELECT xid FROM mine))"
        " SELECT coalesce(sum(record_length - fpi_length), 0), coalesce(sum(record_length), 0),"
        " pg_wal_lsn_diff(%s, %s) FROM own",
        [start, end, *[f"%/{_db_oid(cursor)}/%"] * 2, end, start],
    )
    bare, own, server = cursor.fetchone()
    return int(bare), int(own), int(server or 0)


def _db_oid(cursor) -> int:
    cursor.execute("SELECT oid FROM pg_database WHERE datname = current_database()")
    return cursor.fetchone()[0]


def _measured(label: str, n: int, work, counter: _Statements, *, transactions) -> dict:
    from django.db import connection

    with connection.cursor() as cursor:
        start = _wal_position(cursor)
    before = counter.statements
    with connection.execute_wrapper(counter):
        batches = work()
    statements = counter.statements - before
    with connection.cursor() as cursor:
        bare, own, server = _wal_bytes(cursor, start)
    # A transaction costs a BEGIN and a COMMIT round trip more than its statements.
    trips = statements + 2 * transactions(batches)
    return {
        "what": label,
        "n": n,
        "statements": statements / n,
        "round_trips": trips / n,
        "wal_bytes": bare / n,
        "wal_bytes_fpi": own / n,
        "wal_bytes_server": server / n,
    }


def _one_by_one() -> int:
    """Drain the queue with the per-item path (as before batches), in batches of
    the same size, without savepoints; how many transactions."""
    from django.db import transaction

    from callbacks import queue
    from callbacks.normalize import apply_delivery

    batches = 0
    while True:
        with transaction.atomic():
            batch = queue._claim(queue.batch_size())
            for delivery in batch:
                items = queue._parsed(delivery)
                if items is not None:
                    apply_delivery(delivery, items)
            queue._mark(batch)
        batches += 1
        if not batch:
            return batches


def _batched() -> int:
    """Drain the queue as the workers do; how many transactions."""
    from callbacks import queue

    batches = 1
    while queue.deliveries_normalize():
        batches += 1
    return batches


def per_cdr_costs(n: int, token: str) -> None:
    from django.db import connection
    from django.test import Client

    with connection.cursor() as cursor:
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_walinspect")
    client, counter, prefix = Client(), _Statements(), f"cost{int(time.time())}"
    url = f"/callbacks/{token}/cdr/"
    # Fresh calls for each path, so neither meets the other's rows or dead tuples.
    before = [cdr_body(f"{prefix}-a{i}") for i in range(n)]
    after = [cdr_body(f"{prefix}-b{i}") for i in range(n)]
    events = [
        urlencode(igw_call_start(taskid=f"{prefix}-b{i}", subid="sub-bench")) for i in range(n)
    ]

    def post(path, payloads):
        for body in payloads:
            assert client.post(path, body, content_type=FORM).status_code == 200
        return 0

    def per_request(_):
        return 0  # autocommit: each statement commits by itself

    def per_batch(batches):
        return batches

    def measure(label, work, transactions):
        return _measured(label, n, work, counter, transactions=transactions)

    results = [measure("webhook, per CDR", lambda: post(url, before), per_request)]
    results.append(measure("normalize per delivery (before)", _one_by_one, per_batch))
    post(url, after)
    results.append(measure("normalize in batches (after)", _batched, per_batch))
    event_url = url.replace("/cdr/", "/call-start/")
    results.append(measure("webhook, per event", lambda: post(event_url, events), per_request))
    results.append(measure("normalize events in batches", _batched, per_batch))
    print(json.dumps(results))


# ------------------------------------------------------------------ load: wrk

WRK_LUA = """
counter = 0
local threads = {}
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end
function request()
  counter = counter + 1
  local body = (TEMPLATE:gsub("TASKID", PREFIX .. "-" .. tid .. "-" .. counter))
  return wrk.format("POST", PATH, {["Content-Type"] = "%s"}, body)
end
"""


def wrk(url: str, *, seconds: int, connections: int, body_template: str, prefix: str) -> dict:
    path = "/" + url.split("/", 3)[3]
    lua = (
        f"TEMPLATE = {json.dumps(body_template)}\nPREFIX = {json.dumps(prefix)}\n"
        f"PATH = {json.dumps(path)}\n" + WRK_LUA % FORM
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(lua)
    try:
        out = subprocess.run(
            [
                "wrk",
                "-t2",
                f"-c{connections}",
                f"-d{seconds}s",
                "--timeout",
                "5s",
                "--latency",
                "-s",
                fh.name,
                url,
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=True,
        ).stdout
    finally:
        os.unlink(fh.name)
    return _parse_wrk(out)


def _ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(\w+)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def _parse_wrk(out: str) -> dict:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": rps,
        "requests": total,
        "p50": p50,
        "p99": p99,
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "errors": errors.group(1) if errors else "",
    }


# ------------------------------------------------------------------ load: Python


class _Conn:
    def __init__(self, port: int):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

    def post(self, path: str, body: str) -> int:
        for attempt in (1, 2):
            try:
                self.conn.request("POST", path, body=body, headers={"Content-Type": FORM})
                response = self.conn.getresponse()
                response.read()
                return response.status
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                if attempt == 2:
                    return 599
        return 599


def python_saturate(port: int, path: str, *, seconds: int, threads: int, prefix: str) -> dict:
    """Closed loop: each thread sends as fast as its keep-alive connection allows."""
    stop = time.monotonic() + seconds
    latencies: list[float] = []
    statuses: list[int] = []
    lock = threading.Lock()

    def run(n: int) -> None:
        conn, i, mine, codes = _Conn(port), 0, [], []
        while time.monotonic() < stop:
            i += 1
            started = time.perf_counter()
            codes.append(conn.post(path, cdr_body(f"{prefix}-{n}-{i}")))
            mine.append((time.perf_counter() - started) * 1000)
        with lock:
            latencies.extend(mine)
            statuses.extend(codes)

    workers = [threading.Thread(target=run, args=(n,)) for n in range(threads)]
    begun = time.monotonic()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.monotonic() - begun
    return _summary(latencies, statuses, elapsed)


def fixed_rate(
    port: int, path: str, *, rate: int, seconds: int, prefix: str, senders: int = 16
) -> dict:
    """Open loop at `rate`/s; latency counted from each request's scheduled time.
    `senders` connections: once a request takes longer than senders / rate, the
    schedule slips and the latency shows it."""
    total = rate * seconds
    jobs: queue.Queue = queue.Queue()
    latencies: list[float] = []
    statuses: list[int] = []
    lock = threading.Lock()
    t0 = time.perf_counter() + 0.2

    def run() -> None:
        conn = _Conn(port)
        while True:
            item = jobs.get()
            if item is None:
                return
            index, due = item
            status = conn.post(path, cdr_body(f"{prefix}-{index}"))
            done = time.perf_counter()
            with lock:
                latencies.append((done - due) * 1000)
                statuses.append(status)

    pool = [threading.Thread(target=run) for _ in range(senders)]
    for w in pool:
        w.start()
    for index in range(total):
        due = t0 + index / rate
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        jobs.put((index, due))
    for _ in pool:
        jobs.put(None)
    for w in pool:
        w.join()
    return _summary(latencies, statuses, time.perf_counter() - t0)


def _summary(latencies: list[float], statuses: list[int], elapsed: float) -> dict:
    ordered = sorted(latencies) or [0.0]
    return {
        "rps": len(statuses) / elapsed if elapsed else 0.0,
        "requests": len(statuses),
        "p50": statistics.median(ordered),
        "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
        "non_2xx": sum(1 for s in statuses if not 200 <= s < 300),
        "errors": "",
    }


# ------------------------------------------------------------------ main


def _cpu_times() -> tuple[int, int]:
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def _process_cpu() -> dict[int, tuple[int, str, float]]:
    """Every live process: pid -> (parent pid, command name, CPU seconds so far)."""
    tick = os.sysconf("SC_CLK_TCK")
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # ended while we looked
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        fields = text[text.rindex(")") + 2 :].split()
        cpu = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
        found[int(stat.parent.name)] = (int(fields[1]), name, cpu)
    return found


def cpu_by_part(
    before: dict, after: dict, seconds: float, roots: dict[str, int]
) -> dict[str, float]:
    """Cores used between two `_process_cpu` snapshots, by part: the process trees
    under `roots` (name -> pid), PostgreSQL's processes, Redis, this driver (the load
    generator and the sampler) and everything else."""

    def part(pid: int) -> str:
        seen = pid
        while seen > 1:
            for name, root in roots.items():
                if seen == root:
                    return name
            seen = after.get(seen, (0,))[0]
        comm = after[pid][1]
        if comm.startswith("postgres"):
            return "PostgreSQL"
        if comm.startswith("redis"):
            return "Redis"
        return "driver" if pid == os.getpid() else "other"

    used: dict[str, float] = {}
    for pid, (_, _, cpu) in after.items():
        name = part(pid)
        used[name] = used.get(name, 0.0) + (cpu - before.get(pid, (0, "", 0.0))[2]) / seconds
    return dict(sorted(used.items(), key=lambda item: -item[1]))


# ------------------------------------------------------------------ sustained


def _sql(dsn: str, sql: str, params: tuple = ()) -> list[tuple]:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute(sql, params).fetchall()


BACKLOG = "SELECT count(*) FROM callbacks_delivery WHERE outcome = 'received' AND authenticated"


def _start_worker(env: dict[str, str], processes: int, log: Path) -> subprocess.Popen:
    """A Celery worker (prefork, `processes` children) on the run's Redis database:
    what the webhook's bell wakes in production.  Waits until it is ready."""
    argv = [sys.executable, "-m", "celery", "-A", "ccp_console", "worker", "--pool", "prefork"]
    argv += ["--concurrency", str(processes), "--hostname", f"bench{os.getpid()}@localhost"]
    argv += ["--loglevel", "INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"]
    with log.open("w") as out:
        worker = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + 60
    while " ready." not in log.read_text():
        if worker.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the Celery worker did not start:\n{log.read_text()[-2000:]}")
        time.sleep(0.2)
    return worker


def _stop(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def sustained(
    port: int,
    webhook: str,
    dsn: str,
    *,
    rate: int,
    seconds: int,
    prefix: str,
    senders: int,
    drain: bool = True,
) -> dict:
    """CDRs at `rate`/s for `seconds` while the worker normalizes them: the
    backlog of queued deliveries sampled every 0.5 s, the seconds it takes to
    drain after the last request, and the lag from arrival to normalized."""
    from datetime import UTC, datetime

    begun = datetime.now(UTC)
    samples: list[int] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            samples.append(_sql(dsn, BACKLOG)[0][0])
            done.wait(0.5)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        # As many senders as the saturated phases' connections: a vendor's
        # platform posts from many connections at once.
        load = fixed_rate(port, webhook, rate=rate, seconds=seconds, prefix=prefix, senders=senders)
    finally:
        done.set()
        sampler.join()
    ended, drained = time.monotonic(), None
    while time.monotonic() - ended < (120 if drain else 0):
        if _sql(dsn, BACKLOG)[0][0] == 0:
            drained = time.monotonic() - ended
            break
        time.sleep(0.1)
    lag = _sql(
        dsn,
        "SELECT count(*), percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP"
        " (ORDER BY extract(epoch FROM processed_at - received_at)),"
        " max(processed_at - received_at) FROM callbacks_delivery"
        " WHERE received_at >= %s AND processed_at IS NOT NULL",
        (begun,),
    )[0]
    return {
        **load,
        "target": rate,
        "backlog_max": max(samples or [0]),
        "backlog_last": samples[-1] if samples else 0,
        "drain_seconds": drained,
        "lag_n": lag[0],
        "lag_p50": (lag[1] or [0, 0])[0] * 1000,
        "lag_p99": (lag[1] or [0, 0])[1] * 1000,
        "lag_max": lag[2].total_seconds() * 1000 if lag[2] else 0.0,
    }


def growth(dsn: str) -> dict[str, tuple[int, int]]:
    """(rows, bytes with indexes and TOAST) of the tables a CDR grows."""
    found = {}
    for table in ("callbacks_delivery", "callbacks_callrecord", "callbacks_callevent"):
        sql = f"SELECT count(*), pg_total_relation_size('{table}') FROM {table}"
        rows, size = _sql(dsn, sql)[0]
        found[table] = (rows, size)
    return found


# ------------------------------------------------------------------ main


def _options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=int, default=10, help="per saturation phase and round")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="bare, INSERT and webhook phases measured back to back this many times; "
        "medians are printed (a shared machine's load drifts between phases)",
    )
    parser.add_argument("--workers", type=int, default=3)
    # As gunicorn.conf.py.  Saturated alone, 3x1 and 3x4 take alike (408 and 443
    # CDR/s); with the worker normalizing beside, 3x4 answers 89 % of the sustained
    # rate asked, 3x1 59 % (its requests wait on WAL flushes one at a time).
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--connections", type=int, default=24)
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--sustain-seconds", type=int, default=60)
    parser.add_argument("--sustain-share", type=float, default=0.8, help="of the webhook's rate")
    parser.add_argument("--normalizers", type=int, default=2, help="worker processes, sustained")
    parser.add_argument("--cost-cdrs", type=int, default=1000, help="CDRs measured for costs")
    parser.add_argument("--python-load", action="store_true", help="do not use wrk")
    # The bench flushes this Redis database at the end: give it one of its own.
    parser.add_argument(
        "--redis", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
    )
    parser.add_argument(
        "--async-commit",
        action="store_true",
        help="synchronous_commit=off on the throwaway database: shows what fsync costs; "
        "NOT the product's durability (a 2xx must mean the CDR is on disk)",
    )
    args = parser.parse_args()
    args.seconds = max(1, min(args.seconds, 60))  # bounded, whatever is asked
    args.rounds = max(1, min(args.rounds, 9))
    args.sustain_seconds = max(1, min(args.sustain_seconds, 600))
    return args


def _start_server(env: dict[str, str], port: int, args: argparse.Namespace) -> subprocess.Popen:
    server = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "bench.bench_callbacks:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--worker-class",
            "gthread",
            "--workers",
            str(args.workers),
            "--threads",
            str(args.threads),
            "--keep-alive",
            "30",
            "--log-level",
            "warning",
            "--chdir",
            str(ROOT),
        ],
        env={**env, "BENCH_CALLBACKS_WORKER": "1"},
        cwd=ROOT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("POST", "/bench/bare", body="")
            if conn.getresponse().status == 200:
                return server
        except OSError:
            pass
        if time.monotonic() > deadline or server.poll() is not None:
            _stop(server)
            raise SystemExit("gunicorn did not start")
        time.sleep(0.2)


def _saturate(port: int, path: str, args: argparse.Namespace, prefix: str) -> dict:
    if args.use_wrk:
        return wrk(
            f"http://127.0.0.1:{port}{path}",
            seconds=args.seconds,
            connections=args.connections,
            body_template=cdr_body("TASKID"),
            prefix=prefix,
        )
    return python_saturate(
        port, path, seconds=args.seconds, threads=args.connections, prefix=prefix
    )


def _median_of(rounds: list[dict]) -> dict:
    return {
        "rps": statistics.median(r["rps"] for r in rounds),
        "p50": statistics.median(r["p50"] for r in rounds),
        "p99": statistics.median(r["p99"] for r in rounds),
        "requests": sum(r["requests"] for r in rounds),
        "non_2xx": sum(r["non_2xx"] for r in rounds),
        "errors": " ".join(r["errors"] for r in rounds if r["errors"]),
    }


def saturation(port: int, webhook: str, args: argparse.Namespace, run_id: str) -> tuple[dict, list]:
    """The three saturated phases, `args.rounds` times back to back: medians, and
    each round's webhook / single-INSERT ratio."""
    phases = (
        ("bare view", "/bench/bare"),
        ("single INSERT", "/bench/insert"),
        ("CDR webhook", webhook),
    )
    rounds: dict[str, list[dict]] = {name: [] for name, _ in phases}
    for n in range(args.rounds):
        for name, path in phases:
            # Warm every worker's connection and imports, then measure.
            python_saturate(port, path, seconds=1, threads=4, prefix=f"{run_id}-warm{n}-{name[:3]}")
            rounds[name].append(_saturate(port, path, args, f"{run_id}-sat{n}-{name[:3]}"))
    ratios = [
        cdr["rps"] / max(insert["rps"], 1e-9)
        for cdr, insert in zip(rounds["CDR webhook"], rounds["single INSERT"], strict=True)
    ]
    return {name: _median_of(r) for name, r in rounds.items()}, ratios


def costs(env: dict[str, str], token: str, n: int) -> list[dict]:
    out = _run([sys.executable, "manage.py", "shell", "-c", COSTS.format(n=n, token=token)], env)
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    # Driver side only: gunicorn imports this module as bench.bench_callbacks.
    from _support import PG, admin_sql, free_port, server_env

    args = _options()
    db = f"ccp_bench_callbacks_{os.getpid()}"
    dsn = f"{PG}/{db}"
    # Persistent connections, as in production (settings' default, stated so an
    # exported DB_CONN_MAX_AGE=0 cannot turn every request into a reconnect).
    # Redis as in production: the webhook's bell publishes there; the sustained
    # phase's worker consumes it.
    env = server_env(db, DB_CONN_MAX_AGE="60", CELERY_BROKER_URL=args.redis)
    env["ALLOWED_HOSTS"] += ",testserver"  # the cost phase posts with Django's test client
    args.use_wrk = shutil.which("wrk") is not None and not args.python_load
    port = free_port()
    run_id = f"r{int(time.time())}"
    admin_sql(f"CREATE DATABASE {db}")
    if args.async_commit:
        admin_sql(f"ALTER DATABASE {db} SET synchronous_commit = off")
    server = worker = None
    log = Path(tempfile.mkstemp(prefix="bench_callbacks_worker_", suffix=".log")[1])
    try:
        token = _setup_database(env)["token"]
        webhook = f"/callbacks/{token}/cdr/"
        server = _start_server(env, port, args)

        load_before = os.getloadavg()
        busy0, total0 = _cpu_times()
        results, ratios = saturation(port, webhook, args, run_id)
        results[f"CDR webhook @{args.rate}/s"] = fixed_rate(
            port, webhook, rate=args.rate, seconds=args.seconds, prefix=f"{run_id}-fixed"
        )
        # Normalization after the ack: the same backlog drained by 1, then 2 processes.
        drained = {1: normalization(env, 1)}
        _run([sys.executable, "manage.py", "shell", "-c", RESET], env)
        drained[2] = normalization(env, 2)
        per_cdr = costs(env, token, args.cost_cdrs)
        tables = growth(dsn)

        # --normalizers 0: the web side alone (the backlog then only grows).
        worker = _start_worker(env, args.normalizers, log) if args.normalizers else None
        share = int(results["CDR webhook"]["rps"] * args.sustain_share)
        cpu_before, began = _process_cpu(), time.monotonic()
        kept = sustained(
            port,
            webhook,
            dsn,
            rate=max(share, 1),
            seconds=args.sustain_seconds,
            prefix=f"{run_id}-sus",
            senders=args.connections,
            drain=args.normalizers > 0,
        )
        roots = {"web (gunicorn)": server.pid}
        if worker:
            roots["worker (Celery)"] = worker.pid
        kept["cpu"] = cpu_by_part(cpu_before, _process_cpu(), time.monotonic() - began, roots)
        busy1, total1 = _cpu_times()
        load_after = os.getloadavg()
        stored = _sql(dsn, "select outcome, count(*) from callbacks_delivery group by outcome")
        records = _sql(dsn, "select count(*) from callbacks_callrecord")[0][0]
    finally:
        _stop(worker)
        _stop(server)
        admin_sql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        import redis

        redis.Redis.from_url(env["CELERY_BROKER_URL"]).flushdb()  # the unread bells
        log.unlink(missing_ok=True)

    _report(args, results, ratios, drained, per_cdr, tables, kept, PG)
    print(
        f"machine: {os.cpu_count()} CPUs, load average before {load_before[0]:.2f} "
        f"after {load_after[0]:.2f}, CPU busy during the run "
        f"{100 * (busy1 - busy0) / max(total1 - total0, 1):.0f}%"
    )
    print(f"deliveries by outcome: {dict(stored)}; call records: {records}")
    webhook_ok = sum(
        r["requests"] - r["non_2xx"] for n, r in results.items() if n.startswith("CDR")
    )
    print(f"CDRs answered 2xx in measured phases: {webhook_ok} (each one a committed raw row)")


def _report(args, results, ratios, drained, per_cdr, tables, kept, pg) -> None:
    print(
        f"\nbench_callbacks: gunicorn gthread {args.workers}x{args.threads}, "
        f"load by {'wrk -t2 -c' + str(args.connections) if args.use_wrk else 'Python threads'}, "
        f"{args.rounds} rounds of {args.seconds}s per saturated phase (medians), "
        f"PostgreSQL at {pg}" + (", synchronous_commit=off" if args.async_commit else "")
    )
    print(f"{'phase':<24}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'requests':>10}{'non-2xx':>9}")
    for name, r in results.items():
        print(
            f"{name:<24}{r['rps']:>10.0f}{r['p50']:>10.2f}{r['p99']:>10.2f}"
            f"{r['requests']:>10}{r['non_2xx']:>9}  {r['errors']}"
        )
    print(
        f"CDR webhook saturated / single-INSERT view: {statistics.median(ratios):.2f} "
        f"(median; per round {', '.join(f'{r:.2f}' for r in ratios)})"
    )
    for processes, d in drained.items():
        print(
            f"normalization, {processes} process(es): {d['rate']:.0f} deliveries/s "
            f"({d['deliveries']} in {d['seconds']:.1f} s, batches of up to "
            f"{os.environ.get('NORMALIZE_BATCH', 200)})"
        )
    drain = kept["drain_seconds"]
    print(
        f"sustained: {kept['target']} CDR/s asked ({args.sustain_share:.0%} of the saturated "
        f"webhook) for {args.sustain_seconds} s, a {args.normalizers}-process worker "
        f"normalizing: {kept['rps']:.0f} CDR/s answered (over {kept['requests']} requests), "
        f"p50 {kept['p50']:.1f} ms, p99 {kept['p99']:.1f} ms from the scheduled send time, "
        f"non-2xx {kept['non_2xx']}"
    )
    print(
        f"  backlog max {kept['backlog_max']} deliveries, drained "
        + (f"{drain:.1f} s" if drain is not None else "NOT within 120 s")
        + f" after the last request; lag ack -> normalized p50 {kept['lag_p50']:.0f} ms, "
        f"p99 {kept['lag_p99']:.0f} ms, max {kept['lag_max']:.0f} ms ({kept['lag_n']} deliveries)"
    )
    print(
        "  CPU used meanwhile, in cores: "
        + ", ".join(f"{name} {cores:.2f}" for name, cores in kept["cpu"].items())
    )
    print(
        f"{'per item':<34}{'statements':>11}{'round trips':>12}{'WAL B':>8}{'+FPI':>8}{'server':>8}"
    )
    for c in per_cdr:
        print(
            f"{c['what']:<34}{c['statements']:>11.2f}{c['round_trips']:>12.2f}"
            f"{c['wal_bytes']:>8.0f}{c['wal_bytes_fpi']:>8.0f}{c['wal_bytes_server']:>8.0f}"
        )
    print(
        "  (WAL B: this database's WAL records (pg_walinspect) without full-page images;"
        " +FPI: with them; server: the whole shared server's WAL over the same span)"
    )
    print("table growth, with indexes and TOAST (bytes per row = MB per million rows):")
    per_row = {}
    for table, (rows, size) in tables.items():
        per_row[table] = size / max(rows, 1)
        print(f"  {table:<22}{rows:>9} rows {size / 1e6:>8.1f} MB {per_row[table]:>8.0f} B/row")
    call = (
        2 * per_row["callbacks_delivery"]
        + per_row["callbacks_callrecord"]
        + per_row["callbacks_callevent"]
    )
    print(
        f"  a million calls, each a CDR and one event (two deliveries, a record, an event): "
        f"{call * 1e6 / 1e9:.2f} GB; CDRs alone: "
        f"{(per_row['callbacks_delivery'] + per_row['callbacks_callrecord']) * 1e6 / 1e9:.2f} GB"
    )


if __name__ == "__main__":
    main()
