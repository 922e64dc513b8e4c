"""Fixtures for messaging: a ccp account whose base_url is the sandbox served by
pytest-django's live_server (real HTTP), and the database limiter when asked."""

import pytest


@pytest.fixture
def ccp(live_server, transactional_db, settings):
    """A ccp VendorAccount on the sandbox, its sandbox mirror as `.sandbox`; generous
    limits so tests meet them only on purpose."""
    from sandbox.protocol import base_path
    from sandbox.services import ensure_sandbox_account
    from tests.factories import VendorAccountFactory

    settings.MESSAGING_SENDS_PER_MINUTE = 10_000
    settings.MESSAGING_SENDS_PER_DAY = 0
    account = VendorAccountFactory(vendor="ccp", base_url=live_server.url + base_path("ccp"))
    account.sandbox = ensure_sandbox_account(vendor_account=account)
    return account


@pytest.fixture
def database_limiter(settings):
    """The quick start's limiter backend: counters in the database, not Redis."""
    settings.REDIS_URL = ""
    settings.CELERY_BROKER_URL = "sqla+sqlite:///unused.sqlite3"


@pytest.fixture(autouse=True)
def _fresh_redis_counters():
    """Limiter counters live in this run's Redis db: start each test from zero."""
    import redis
    from django.conf import settings

    url = settings.REDIS_URL or settings.CELERY_BROKER_URL
    if url.startswith("redis"):
        client = redis.Redis.from_url(url)
        for key in client.scan_iter("ccp:msglimit:*"):
            client.delete(key)
