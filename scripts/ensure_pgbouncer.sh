#!/usr/bin/env bash
# Make sure Debian's pgbouncer is installed: tests/test_pgbouncer.py runs the console
# through a PgBouncer of its own in transaction mode (tests/servers.py starts it; the
# package's own service is not used). Idempotent, so `make test` calls it every time.
# Installing needs root (CI and the dev machines run as root); without root it says
# what to run, and the test fails naming the missing binary.
set -euo pipefail

if command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "ensure_pgbouncer: pgbouncer missing; run as root:" >&2
    echo "  apt-get update && apt-get install -y pgbouncer" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
# Another apt-get may hold the dpkg lock; wait for it rather than fail.
apt_get() { apt-get -o DPkg::Lock::Timeout=300 "$@"; }
apt_get update -qq
apt_get install -y -qq --no-install-recommends pgbouncer
# The package enables its service; the tests start their own instance instead.
if command -v service >/dev/null 2>&1; then
    service pgbouncer stop >/dev/null 2>&1 || true
fi
