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
    for name in ("binding_bind_at_vendor", "binding_release_at_vendor"):
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
    then the client sees a ReadTimeout instead of the answer (a lost response).
    The fault sits inside the client's own guarded transport: the host policy still holds."""
    import requests

    from privacy import services
    from vendors.outbound import GuardedAdapter

    class LostResponses(GuardedAdapter):
        remaining = 0
        sent = 0

        def send(self, request, *args, **kwargs):
            response = super().send(request, *args, **kwargs)
            self.sent += 1
            if self.remaining > 0:
                self.remaining -= 1
                raise requests.ReadTimeout("injected: the answer was lost", request=request)
            return response

    real = services.vendor_client
    state = {}

    def install(timeouts: int = 1):
        state["timeouts"] = timeouts

        def client_with_faults(*, account, **kwargs):
            client = real(account=account, **kwargs)
            if "adapter" not in state:
                policy = client.session.get_adapter(client.base_url).policy
                state["adapter"] = LostResponses(policy)
                state["adapter"].remaining = state["timeouts"]
            client.session.mount("http://", state["adapter"])
            client._sleep = lambda seconds: None  # retry at once: the test is about counts
            return client

        monkeypatch.setattr(services, "vendor_client", client_with_faults)
        return _Counter(state)

    return install


class _Counter:
    """What the tests read: how many requests went out through the faulty transport."""

    def __init__(self, state):
        self._state = state

    @property
    def sent(self) -> int:
        adapter = self._state.get("adapter")
        return adapter.sent if adapter is not None else 0
