"""X allocation under concurrency: real threads, each with its own database connection.

Fifty requests start together (a barrier); the database (row locks with SKIP LOCKED,
partial unique indexes) must keep every pairing unique and every X under its cap,
and no request may fail with anything but a clear pool error (no deadlock, no 500).
"""

import threading
from collections import Counter

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from privacy import services
from privacy.models import Binding

pytestmark = pytest.mark.django_db(transaction=True)

WORKERS = 50


def run_concurrently(count: int, make_kwargs) -> tuple[list[Binding], list[str], list[str]]:
    barrier = threading.Barrier(count)
    made: list[Binding] = []
    refused: list[str] = []
    crashed: list[str] = []
    lock = threading.Lock()

    def work(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            binding = services.binding_create(**make_kwargs(i))
            with lock:
                made.append(binding)
        except ValidationError as exc:
            with lock:
                refused.append(" ".join(exc.messages))
        except Exception as exc:
            with lock:
                crashed.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a request hung (deadlock?)"
    return made, refused, crashed


def same_a(account):
    return lambda i: {
        "kind": "axb",
        "vendor_account": account,
        "a_number": "13800138000",
        "b_number": f"1390000{i:04d}",
        "ttl": 600,
    }


def test_fifty_requests_for_one_a_never_share_an_x(igw_account, make_pool, enqueued):
    make_pool(igw_account, 60)
    made, refused, crashed = run_concurrently(WORKERS, same_a(igw_account))
    assert crashed == [] and refused == []
    xs = [b.x_number_id for b in made]
    assert len(xs) == WORKERS == len(set(xs))
    assert Binding.objects.count() == WORKERS
    assert sorted(pk for _, pk in enqueued) == sorted(b.pk for b in made)


def test_small_pool_runs_out_cleanly(igw_account, make_pool, enqueued):
    make_pool(igw_account, 20)
    made, refused, crashed = run_concurrently(WORKERS, same_a(igw_account))
    assert crashed == []
    assert len(made) == 20 and len({b.x_number_id for b in made}) == 20
    assert len(refused) == WORKERS - 20
    assert all("already pairs 13800138000" in r for r in refused), refused[:3]


def test_cap_holds_under_concurrency(igw_account, make_pool, enqueued):
    make_pool(igw_account, 5)  # cap 3 per X: 15 slots for 50 different A numbers
    made, refused, crashed = run_concurrently(
        WORKERS,
        lambda i: {
            "kind": "axb",
            "vendor_account": igw_account,
            "a_number": f"1380000{i:04d}",
            "b_number": f"1390000{i:04d}",
            "ttl": 600,
        },
    )
    assert crashed == []
    assert len(made) == 15
    per_x = Counter(Binding.objects.values_list("x_number_id", flat=True))
    assert max(per_x.values()) == 3 and len(per_x) == 5
    assert all("cap of 3" in r for r in refused), refused[:3]
