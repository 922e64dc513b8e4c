#!/usr/bin/env bash
# Make sure Debian's chromium and chromium-driver (browser tests, pytest -m browser) and
# nginx (the proxy configuration test and bench/bench_slowloris.py) are installed. Idempotent: does nothing when both are already there, so `make
# test` can call it every time. Installing needs root (CI and the dev machines run as
# root); without root it says what to run and leaves the tests to skip themselves.
set -euo pipefail

if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 \
    && { command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; }; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "ensure_chromium: chromium/chromedriver/nginx missing; run as root:" >&2
    echo "  apt-get update && apt-get install -y chromium chromium-driver nginx-light" >&2
    echo "ensure_chromium: browser tests will be skipped." >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
# Another apt-get may hold the dpkg lock; wait for it rather than fail.
apt_get() { apt-get -o DPkg::Lock::Timeout=300 "$@"; }
apt_get update -qq
apt_get install -y -qq --no-install-recommends chromium chromium-driver nginx-light
