#!/usr/bin/env bash
# Make sure Debian's redis-server binary is installed: the outbox fault tests
# (tests/core/test_outbox_faults.py) and bench/bench_outbox.py start and stop a Redis
# of their own on a free port, never the machine's shared one. Idempotent: does
# nothing when it is there. Installing needs root; without it, it says what to run
# and leaves those tests to skip themselves.
set -euo pipefail

if command -v redis-server >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "ensure_redis_server: redis-server missing; run as root:" >&2
    echo "  apt-get update && apt-get install -y redis-server" >&2
    echo "ensure_redis_server: the outbox fault tests will be skipped." >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
# The package would start its own service on 6379, where the machine's Redis may
# already listen: keep it from starting anything while it installs.
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt_get() { apt-get -o DPkg::Lock::Timeout=300 "$@"; }
apt_get update -qq
apt_get install -y -qq --no-install-recommends redis-server
