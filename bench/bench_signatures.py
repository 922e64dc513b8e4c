"""Signatures per second for every vendor scheme.

    python bench/bench_signatures.py [N]

Pure CPU: no network, fixed inputs, time.perf_counter.  Prints one line per
scheme; no assertions (compare runs by eye or in CI logs).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vendors import ccp, cyj, huawei, igw

SID = "a" * 32
TOKEN = "0123456789abcdef0123456789abcdef"
NONCE = "66C92B11FF8A425FB8D4CCFE0ED9ED1F"
CREATED = "2018-02-12T15:30:20Z"
URL = "https://cb.example.com/hooks/huawei/tok123/status"

SCHEMES: dict[str, Callable[[int], object]] = {
    "ccp sig+Authorization": lambda i: ccp.sign(SID, TOKEN, "20140416142030"),
    "igw Keytime": lambda i: igw.keytime("10000000", "abcdef123456", 1622020210513 + i),
    "huawei request (X-AKSK headers)": lambda i: huawei.aksk_headers(
        "appkey", "appsecret", nonce=NONCE, created=CREATED
    ),
    "huawei push digest": lambda i: huawei.push_digest("appsecret", URL, NONCE, CREATED),
    "cyj Sig+Authorization": lambda i: cyj.sign(TOKEN, "app774e", "20240101120000"),
}


def run(n: int) -> None:
    width = max(map(len, SCHEMES))
    print(f"{n} iterations each")
    for name, fn in SCHEMES.items():
        for i in range(min(n, 1000)):  # warm-up
            fn(i)
        start = time.perf_counter()
        for i in range(n):
            fn(i)
        elapsed = time.perf_counter() - start
        per_call_us = elapsed * 1e6 / n
        print(f"{name:<{width}}  {n / elapsed:>12,.0f} signatures/s  ({per_call_us:.2f} µs each)")


if __name__ == "__main__":
    run(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
