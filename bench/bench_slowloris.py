"""Slow clients against /healthz: gunicorn alone, then behind nginx (deploy/nginx.conf).

    .venv/bin/python bench/bench_slowloris.py [--connections 50] [--seconds 20]

What it does, all on 127.0.0.1, bounded in time and count:
1. finds nginx (installs Debian's nginx-light with apt-get when missing and root);
2. creates a throwaway PostgreSQL database (dropped at the end; /healthz only
   runs SELECT 1, so nothing is migrated) and starts gunicorn with the project's
   gunicorn.conf.py (3 gthread workers x 1 thread, as in production);
3. starts nginx in the foreground with a config generated from deploy/nginx.conf:
   the same http{} block (timeouts, buffering, limits), with the upstream pointed
   at that gunicorn, a loopback listen port and temp paths in a temp directory;
4. for each target (gunicorn directly, then nginx): opens N slow connections that
   send a request line and then one header byte per second and never finish
   (reopening any the server closes), and meanwhile probes GET /healthz on a fresh
   connection every 100 ms with a 2 s timeout; prints median / p95 / max latency
   and the probes that failed;
5. stops nginx and gunicorn and drops the database, whatever happened.

Exit status 0 when /healthz through nginx stayed under 100 ms at p95 with no failed
probe; 1 otherwise. Gunicorn alone is the baseline that shows why the proxy is there.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import selectors
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NGINX_CONF = ROOT / "deploy" / "nginx.conf"
PROBE_EVERY = 0.1
PROBE_TIMEOUT = 2.0
TARGET_P95_MS = 100.0


# ------------------------------------------------------------------------ nginx


def find_nginx() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else "")
    if found:
        return found
    if os.geteuid() != 0:
        raise SystemExit("nginx is missing: apt-get install -y nginx-light (as root)")
    print("nginx missing: installing Debian's nginx-light ...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    lock = ["-o", "DPkg::Lock::Timeout=300"]
    subprocess.run(["apt-get", *lock, "update", "-qq"], check=True, env=env)
    subprocess.run(
        ["apt-get", *lock, "install", "-y", "-qq", "--no-install-recommends", "nginx-light"],
        check=True,
        env=env,
    )
    return shutil.which("nginx") or "/usr/sbin/nginx"


def nginx_config(upstream_port: int, listen_port: int, tmp: Path) -> str:
    """deploy/nginx.conf's http{} block, pointed at loopback ports, run unprivileged paths."""
    text = NGINX_CONF.read_text()
    start = text.index("http {")
    http_block = text[start:]
    for needle, replacement in (
        ("server web:8000;", f"server 127.0.0.1:{upstream_port};"),
        ("listen 80;", f"listen 127.0.0.1:{listen_port};"),
        ("access_log /dev/stdout;", "access_log off;"),
    ):
        if needle not in http_block:
            raise SystemExit(f"deploy/nginx.conf no longer has {needle!r}: update this script")
        http_block = http_block.replace(needle, replacement)
    temp_paths = "".join(
        f"    {kind}_temp_path {tmp / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    http_block = http_block.replace("http {\n", "http {\n" + temp_paths, 1)
    head = [
        "daemon off;",
        "master_process on;",
        "worker_processes 1;",  # the 2-core box also runs gunicorn and this script
        f"pid {tmp / 'nginx.pid'};",
        f"error_log {tmp / 'error.log'} warn;",
        "events { worker_connections 1024; }",
    ]
    if os.geteuid() == 0:
        head.insert(0, "user root;")  # workers must write the temp dirs created here
    return "\n".join(head) + "\n" + http_block


def start_nginx(nginx: str, conf: Path, port: int, tmp: Path) -> subprocess.Popen:
    subprocess.run([nginx, "-t", "-q", "-p", str(tmp), "-c", str(conf)], check=True)
    proc = subprocess.Popen([nginx, "-p", str(tmp), "-c", str(conf)])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("nginx exited during start-up: " + (tmp / "error.log").read_text())
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc
        except OSError:
            time.sleep(0.1)
    raise SystemExit("nginx did not listen within 10 s")


# --------------------------------------------------------------------- the load


class SlowClients(threading.Thread):
    """N connections that each send a request line, then one header byte a second."""

    def __init__(self, port: int, count: int, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.port, self.count, self.stop = port, count, stop
        self.opened = 0
        self.closed_by_server = 0
        self.sel = selectors.DefaultSelector()

    def _open(self) -> None:
        try:
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=2)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        except OSError:
            return
        sock.setblocking(False)
        self.sel.register(sock, selectors.EVENT_READ)
        self.opened += 1

    def run(self) -> None:
        for _ in range(self.count):
            self._open()
        while not self.stop.is_set():
            deadline = time.monotonic() + 1.0
            while (left := deadline - time.monotonic()) > 0 and not self.stop.is_set():
                for key, _ in self.sel.select(timeout=min(left, 0.2)):
                    # Readable: the server answered (408/400) or closed; replace it.
                    self.sel.unregister(key.fileobj)
                    key.fileobj.close()
                    self.closed_by_server += 1
            for key in list(self.sel.get_map().values()):
                try:
                    key.fileobj.send(b"a")
                except OSError:
                    self.sel.unregister(key.fileobj)
                    key.fileobj.close()
                    self.closed_by_server += 1
            for _ in range(self.count - len(self.sel.get_map())):
                self._open()
        for key in list(self.sel.get_map().values()):
            key.fileobj.close()
        self.sel.close()


def probe(port: int) -> float | None:
    """Latency in ms of one GET /healthz on a fresh connection, or None on failure."""
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=PROBE_TIMEOUT)
    try:
        conn.request("GET", "/healthz")
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            return None
    except OSError:
        return None
    finally:
        conn.close()
    return (time.perf_counter() - started) * 1000


def attack(name: str, port: int, connections: int, seconds: float) -> dict:
    idle = [ms for ms in (probe(port) for _ in range(10)) if ms is not None]
    stop = threading.Event()
    clients = SlowClients(port, connections, stop)
    clients.start()
    time.sleep(1.5)  # let every slow connection reach the server
    latencies: list[float] = []
    failed = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        ms = probe(port)
        if ms is None:
            failed += 1
        else:
            latencies.append(ms)
        time.sleep(PROBE_EVERY)
    stop.set()
    clients.join(timeout=10)
    result = {
        "name": name,
        "idle_median": statistics.median(idle) if idle else None,
        "ok": len(latencies),
        "failed": failed,
        "opened": clients.opened,
        "closed_by_server": clients.closed_by_server,
    }
    if latencies:
        latencies.sort()
        result["median"] = statistics.median(latencies)
        result["p95"] = latencies[max(0, round(0.95 * len(latencies)) - 1)]
        result["max"] = latencies[-1]
    return result


def show(r: dict, connections: int) -> None:
    def ms(key: str) -> str:
        return f"{r[key]:8.1f}" if r.get(key) is not None else "       -"

    print(
        f"{r['name']:<22} idle {ms('idle_median')} ms | under {connections} slow: "
        f"median {ms('median')}  p95 {ms('p95')}  max {ms('max')} ms | "
        f"probes ok {r['ok']:4d} failed {r['failed']:4d} | "
        f"slow conns opened {r['opened']}, dropped by server {r['closed_by_server']}"
    )


def main() -> int:
    from _support import admin_sql, free_port, server_env, start_gunicorn, stop

    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    # Bounded, whatever is asked.
    args.connections = max(1, min(args.connections, 500))
    args.seconds = max(2.0, min(args.seconds, 60.0))

    nginx = find_nginx()
    db = f"ccp_bench_slowloris_{os.getpid()}"
    env = server_env(db)
    gunicorn_port, nginx_port = free_port(), free_port()
    tmp = Path(tempfile.mkdtemp(prefix="bench-slowloris-"))
    admin_sql(f"CREATE DATABASE {db}")
    server = proxy = None
    try:
        # gunicorn.conf.py is read from the working directory (the repository root);
        # _support passes the same worker shape on the command line.
        server = start_gunicorn(env, gunicorn_port, workers=3, threads=1, quiet=True)
        conf = tmp / "nginx.conf"
        conf.write_text(nginx_config(gunicorn_port, nginx_port, tmp))
        proxy = start_nginx(nginx, conf, nginx_port, tmp)
        version = subprocess.run([nginx, "-v"], capture_output=True, text=True).stderr.strip()
        timeouts = re.findall(
            r"^\s*(client_\w+_timeout|send_timeout) (\S+);", conf.read_text(), re.M
        )
        print(f"{version}; gunicorn 3 gthread workers x 1 thread; CPUs {os.cpu_count()}")
        print("nginx " + ", ".join(f"{k} {v}" for k, v in timeouts))
        print(
            f"{args.connections} slow connections for {args.seconds:.0f} s per target; "
            f"/healthz probed every {PROBE_EVERY * 1000:.0f} ms, {PROBE_TIMEOUT:.0f} s timeout"
        )
        direct = attack("gunicorn directly", gunicorn_port, args.connections, args.seconds)
        show(direct, args.connections)
        proxied = attack("through nginx", nginx_port, args.connections, args.seconds)
        show(proxied, args.connections)
        print(f"load averages {os.getloadavg()}")
    finally:
        stop(proxy)
        stop(server)
        admin_sql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        shutil.rmtree(tmp, ignore_errors=True)
    passed = proxied.get("p95") is not None and proxied["p95"] < TARGET_P95_MS
    passed = passed and proxied["failed"] == 0
    print(
        f"{'PASS' if passed else 'FAIL'}: through nginx p95 < {TARGET_P95_MS:.0f} ms "
        "with no failed probe"
    )
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
