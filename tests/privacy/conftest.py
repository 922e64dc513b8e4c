"""Fixtures for the privacy tests: igw and cyj accounts with pools, and enqueued-task capture."""

import pytest

from tests.factories import PrivacyNumberFactory, VendorAccountFactory


@pytest.fixture
def igw_account(db):
    return VendorAccountFactory(vendor="igw", name="igw-main", extra={"max_bindings_per_x": 3})


@pytest.fixture
def cyj_account(db):
    return VendorAccountFactory(vendor="cyj", name="cyj-main")


@pytest.fixture
def make_pool():
    """make_pool(account, count, area_code="010", start=0) -> list of PrivacyNumber."""

    def make(account, count: int, area_code: str = "010", start: int = 0):
        return [
            PrivacyNumberFactory(
                vendor_account=account, number=f"+86171{start + i:08d}", area_code=area_code
            )
            for i in range(count)
        ]

    return make


@pytest.fixture
def enqueued(monkeypatch):
    """Record task sends instead of running them (tests that are not about the vendor)."""
    from privacy import tasks

    sent: list[tuple[str, int]] = []
    for name in ("bind_binding", "release_binding"):
        task = getattr(tasks, name)
        monkeypatch.setattr(task, "delay", lambda pk, _n=name: sent.append((_n, pk)))
    return sent
