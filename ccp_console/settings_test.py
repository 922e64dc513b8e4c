"""Settings for the test suite: real PostgreSQL and Redis, never a silent fallback.

The services are checked at session start (tests/conftest.py) and the run stops
naming the one that is unreachable.
"""

import os

# Never the developer's .env (the quick start's): tests and their subprocesses see
# only what this file and the environment say.
os.environ.setdefault("ENV_FILE", "")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ccp_console")
# Under pytest-xdist each process has its own test database (pytest-django suffixes
# the name with the worker id) and here its own Redis database, so limiter counters,
# broker queues and worker pings of one process never meet another's. Subprocesses
# (Celery workers, the quick start) inherit both through the environment.
_XDIST = os.environ.get("PYTEST_XDIST_WORKER", "")
_REDIS_DB = (14, 15, 12, 11, 10, 9)[int(_XDIST[2:])] if _XDIST.startswith("gw") else 14
os.environ.setdefault("CELERY_BROKER_URL", f"redis://127.0.0.1:6379/{_REDIS_DB}")
os.environ.setdefault("REDIS_URL", f"redis://127.0.0.1:6379/{_REDIS_DB}")
os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production")
os.environ.setdefault("FIELD_ENCRYPTION_KEY", "dGVzdC1rZXktZm9yLXRoZS1zdWl0ZS0zMi1ieXRlcyE=")
os.environ.setdefault("PUBLIC_BASE_URL", "https://console.example.com")
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECURE_COOKIES", "0")
os.environ.setdefault("SANDBOX_ENABLED", "1")
# No private address is reachable unless a test allows it: the live_server fixture adds
# its own host:port (tests/conftest.py), never the whole of loopback.
os.environ.setdefault("OUTBOUND_PRIVATE_ALLOWLIST", "")

from .settings import *  # noqa: E402, F403 - after the environment it reads

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"] = {  # noqa: F405
    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
}
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
# Each test process's own memory, emptied before every test (tests/conftest.py): a
# test's rollups roll back without a new version, and clearing a Redis database
# would empty the broker queues that share it.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
STATIC_ROOT.mkdir(exist_ok=True)  # noqa: F405 - WhiteNoise warns when it is missing
