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


@pytest.fixture
def sandbox_account(live_server, make_pool):
    """sandbox_account(vendor, numbers=3) -> a console VendorAccount served by the sandbox
    over real HTTP, with `numbers` X numbers in its pool, mirrored into the sandbox."""
    from sandbox.services import ensure_sandbox_account

    def make(vendor: str = "igw", numbers: int = 3, **fields):
        account = VendorAccountFactory(
            vendor=vendor, base_url=f"{live_server.url}/sandbox/{vendor}", **fields
        )
        make_pool(account, numbers)
        ensure_sandbox_account(vendor_account=account)
        return account

    return make


@pytest.fixture
def vendor_faults(monkeypatch):
    """vendor_faults(timeouts=n): the next n vendor requests reach the vendor for real,
    then the client sees a ReadTimeout instead of the answer (a lost response)."""
    import requests
    from requests.adapters import HTTPAdapter

    from privacy import services

    class LostResponses(HTTPAdapter):
        def __init__(self, timeouts: int) -> None:
            super().__init__()
            self.remaining = timeouts
            self.sent = 0

        def send(self, request, **kwargs):
            response = super().send(request, **kwargs)
            self.sent += 1
            if self.remaining > 0:
                self.remaining -= 1
                raise requests.ReadTimeout("injected: the answer was lost", request=request)
            return response

    real = services.vendor_client

    def install(timeouts: int = 1) -> LostResponses:
        adapter = LostResponses(timeouts)

        def client_with_faults(*, account, **kwargs):
            session = requests.Session()
            session.mount("http://", adapter)
            client = real(account=account, session=session, **kwargs)
            client._sleep = lambda seconds: None  # retry at once: the test is about counts
            return client

        monkeypatch.setattr(services, "vendor_client", client_with_faults)
        return adapter

    return install
