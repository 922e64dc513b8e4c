"""Settings, read from the environment (and an optional .env file) by django-environ.

Every variable is listed in the README's configuration table. With DEBUG off the
console refuses to start without SECRET_KEY and FIELD_ENCRYPTION_KEY, because a
default for either would silently make production insecure.
"""

import contextlib
import os
from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# The environment wins over the file. ENV_FILE names another file, or none when empty:
# the test suite sets it empty so a developer's quick-start .env cannot leak into it.
ENV_FILE = os.environ.get("ENV_FILE", str(BASE_DIR / ".env"))
if ENV_FILE:
    environ.Env.read_env(ENV_FILE)

DEBUG = env.bool("DEBUG", default=False)


def _required_in_production(name: str, dev_default: str) -> str:
    value = env.str(name, default="")
    if value:
        return value
    if DEBUG:
        return dev_default
    raise ImproperlyConfigured(
        f"{name} must be set when DEBUG is off (see the README's configuration table)."
    )


def _env_int(name: str, default: int, *, minimum: int = 0) -> int:
    """An integer setting; a typo stops the start-up naming the variable."""
    raw = env.str(name, default="").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}.") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}.")
    return value


SECRET_KEY = _required_in_production("SECRET_KEY", "dev-only-insecure-secret-key")
# Comma-separated Fernet keys: the first encrypts, all decrypt (key rotation).
FIELD_ENCRYPTION_KEY = _required_in_production(
    "FIELD_ENCRYPTION_KEY", "ZGV2LW9ubHktaW5zZWN1cmUta2V5LTMyLWJ5dGVzISE="
)

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# The address vendors post callbacks to; webhook URLs shown to operators start with it.
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")


def _host_port_list(name: str) -> list[str]:
    """A comma-separated list of host:port; a port is required (never a whole host)."""
    entries = [entry.strip() for entry in env.list(name, default=[]) if entry.strip()]
    for entry in entries:
        host, sep, port = entry.rpartition(":")
        if not (sep and host.strip("[]") and port.isdigit() and 0 < int(port) < 65536):
            raise ImproperlyConfigured(f"{name}: {entry!r} is not host:port (e.g. 10.0.0.5:8443).")
    return entries


# Outbound requests (vendor APIs, recordings) never reach loopback/private addresses
# except at these exact host:port pairs (e.g. the sandbox of the quick start).
OUTBOUND_PRIVATE_ALLOWLIST = _host_port_list("OUTBOUND_PRIVATE_ALLOWLIST")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "csp",
    "core",
    "accounts",
    "sandbox",
    "privacy",
    "callbacks",
    "messaging",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Vendor callbacks leave here for the webhook view (callbacks/middleware.py).
    "callbacks.middleware.WebhookFastPath",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "core.middleware.AdminQueryGuard",
    # Last, so it turns a lockout flagged during authentication into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "ccp_console.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "ccp_console.wsgi.application"

# Unset DATABASE_URL: a SQLite file, so the quick start needs no server.
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The quick start's web, worker and beat write one file at once. WAL lets readers
    # go on during a write; IMMEDIATE takes the write lock at BEGIN, so two writers
    # queue (up to `timeout` s) instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
        }
    )
# Behind PgBouncer in transaction pooling (DATABASE_POOLER=pgbouncer) a client's
# consecutive transactions may run on different server connections, so nothing may
# outlive a transaction: no server-side cursors (a queryset's .iterator() would
# declare a WITH HOLD cursor on one connection and fetch from another). The code keeps
# no other session state: no advisory locks, LISTEN or plain SET (only SET LOCAL),
# and Django's psycopg backend prepares no statements; PgBouncer carries TimeZone.
DATABASE_POOLER = env.str("DATABASE_POOLER", default="").strip().lower()
if DATABASE_POOLER not in ("", "pgbouncer"):
    raise ImproperlyConfigured(f"DATABASE_POOLER is empty or pgbouncer, not {DATABASE_POOLER!r}.")
if DATABASE_POOLER:
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# Login throttling (django-axes): after AXES_FAILURE_LIMIT failures for one username,
# or from one client IP, further attempts are refused for the cool-off, even with the
# right password. The axes backend must come first to refuse before checking passwords.
# API tokens and sessions do not go through authenticate(), so they are unaffected.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
# A success does not wipe the failures: with per-IP counting it would wipe the address's
# count too, so an attacker holding one valid account could guess on without limit.
AXES_RESET_ON_SUCCESS = False
AXES_LOCKOUT_CALLABLE = "core.views.login_locked_out"
# The same client address the webhooks record: X-Forwarded-For only with TRUSTED_PROXY,
# counted from the right, so a client cannot pick its own address to dodge the limit.
AXES_CLIENT_IP_CALLABLE = "callbacks.webhooks.client_ip"

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="Asia/Shanghai")
USE_I18N = True
USE_TZ = True
# One date format everywhere (ccp_console/formats overrides the locale's, which would
# otherwise win): "2026-11-30 05:25" in TIME_ZONE; exports add the offset.
FORMAT_MODULE_PATH = ["ccp_console.formats"]
DATETIME_FORMAT = SHORT_DATETIME_FORMAT = "Y-m-d H:i"

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# WhiteNoise serves collected files; before collectstatic (dev, tests) it uses the finders.
WHITENOISE_USE_FINDERS = True
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(BASE_DIR / "media")))
MEDIA_URL = "media/"  # never routed: recordings are served by an authenticated view

# Media storage: local files by default; S3-compatible when MEDIA_S3_BUCKET is set.
_s3_bucket = env.str("MEDIA_S3_BUCKET", default="")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
if _s3_bucket:
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": _s3_bucket,
            "endpoint_url": env.str("MEDIA_S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("MEDIA_S3_REGION", default="") or None,
            "access_key": env.str("MEDIA_S3_ACCESS_KEY", default="") or None,
            "secret_key": env.str("MEDIA_S3_SECRET_KEY", default="") or None,
            "default_acl": "private",
            "querystring_auth": True,
        },
    }

# The quick start's state (embedded broker, beat schedule); gitignored. A read-only
# install (the Docker image) sets its broker and schedule elsewhere, hence suppress.
RUN_DIR = Path(env.str("RUN_DIR", default=str(BASE_DIR / "run")))
with contextlib.suppress(OSError):
    RUN_DIR.mkdir(parents=True, exist_ok=True)

# Celery. Unset broker: the embedded one, kombu's SQLAlchemy transport on a SQLite file
# in RUN_DIR, so `make run` needs no server yet has a real worker and beat (delays,
# retries with countdown, expiry and sweeps as in production). Each message is a row
# written in one transaction, and a worker claims it under SQLite's write lock, so
# several processes can share the file. The filesystem transport needs no dependency,
# but its worker moves a message file without the writer's lock, so it can take a
# file that is still being written and lose that message.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
if not CELERY_BROKER_URL:
    CELERY_BROKER_URL = f"sqla+sqlite:///{RUN_DIR / 'broker.sqlite3'}"
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="celery")
CELERY_TASK_EAGER_PROPAGATES = True  # tests run most tasks eagerly (tests/conftest.py)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
# A worker killed mid-task leaves the message unacknowledged, so another worker redoes
# it; vendor calls carry idempotency keys so a redo never creates a second binding.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
_EMBEDDED_BROKER = CELERY_BROKER_URL.startswith(("sqla+", "sqlalchemy+"))
if _EMBEDDED_BROKER:
    # These options go to SQLAlchemy's create_engine: wait for SQLite's lock.
    CELERY_BROKER_TRANSPORT_OPTIONS: dict = {"connect_args": {"timeout": 30}}
else:
    # max_retries 0: a publish while the broker is down fails at once instead of
    # retrying for ~6 s inside the request (a webhook's doorbell ring, measured by
    # tests/callbacks/test_faults.py: 100 CDRs took 75 s to acknowledge during an
    # outage); the database holds the work and the sweepers ring again. Workers
    # reconnect under their own retry settings, not this one.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600, "max_retries": 0}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE_FILENAME = str(RUN_DIR / "celerybeat-schedule")
SUB_ACCOUNT_SYNC_HOUR = _env_int("SUB_ACCOUNT_SYNC_HOUR", 3)
if SUB_ACCOUNT_SYNC_HOUR > 23:
    raise ImproperlyConfigured(
        f"SUB_ACCOUNT_SYNC_HOUR is an hour, 0-23, not {SUB_ACCOUNT_SYNC_HOUR}."
    )
# The outbox of outbound work (core/outbox.py): how often beat publishes what is due,
# and how long a worker holds a unit of work before another may take it over. 45 s:
# a call without an idempotency key is retried by the client only while it provably
# never reached the vendor, so it ends within about 25 s (4 connects of 3.05 s, their
# backoff, one 10 s read); an idempotent one may retry up to about 56 s, and a
# takeover meanwhile repeats it with the same key, which is harmless. Shorter than a
# minute, so a killed worker's binds are done within a minute of the kill.
# The embedded broker keeps every consumed message in its file: a tick of 5 s there.
OUTBOX_DISPATCH_SECONDS = _env_int(
    "OUTBOX_DISPATCH_SECONDS", 5 if _EMBEDDED_BROKER else 2, minimum=1
)
OUTBOX_LEASE_SECONDS = _env_int("OUTBOX_LEASE_SECONDS", 45, minimum=1)
CELERY_BEAT_SCHEDULE: dict = {
    # Bindings past their TTL become expired locally (the vendors end them themselves);
    # also rebuilds the per-X load counters.
    "privacy-expire-bindings": {
        "task": "privacy.tasks.bindings_expire_due",
        "schedule": float(_env_int("BINDING_EXPIRE_INTERVAL_SECONDS", 60, minimum=1)),
    },
    # The outbox (core/outbox.py): binds, releases, sends and sub-account creates whose
    # message was lost (a broker outage) or whose worker died (its lease expired) are
    # published again. Its own message is lost in an outage too: the next tick runs.
    "core-outbox-dispatch": {
        "task": "core.tasks.outbox_dispatch",
        "schedule": float(OUTBOX_DISPATCH_SECONDS),
    },
    # The inbox's sweeper: normalizes deliveries whose bell was lost (broker outage,
    # killed worker); arrivals ring it themselves, so this is the worst-case lag.
    "callbacks-normalize-deliveries": {
        "task": "callbacks.tasks.deliveries_normalize",
        "schedule": float(_env_int("NORMALIZE_SWEEP_SECONDS", 5, minimum=1)),
    },
    # Recordings still pending (a broker outage, a lost message) are sent again, and a
    # download whose lease ran out (its worker was killed) is taken over.
    "callbacks-sweep-pending-recordings": {
        "task": "callbacks.tasks.recording_sweep",
        "schedule": float(_env_int("RECORDING_SWEEP_SECONDS", 15, minimum=1)),
    },
    # Signed callback nonces past their window are useless: keep the table small.
    "callbacks-prune-nonces": {"task": "callbacks.tasks.callback_nonce_prune", "schedule": 600.0},
    # Sub-accounts made or closed in the vendor's own console, once a day (local time);
    # a crontab, not an interval, so a restarted beat does not run it again at once.
    "accounts-sync-sub-accounts": {
        "task": "accounts.tasks.sub_accounts_sync_all",
        "schedule": crontab(minute=20, hour=SUB_ACCOUNT_SYNC_HOUR),
    },
    # The database send limiter's ended windows (messaging.limits; none with Redis).
    "messaging-prune-limit-windows": {
        "task": "messaging.tasks.limit_windows_prune",
        "schedule": 3600.0,
    },
    # Background CSV exports' files past their lifetime are deleted.
    "callbacks-expire-exports": {
        "task": "callbacks.tasks.call_record_export_expire",
        "schedule": 3600.0,
    },
    # Balance and state of every account whose vendor has a status API, kept as a
    # history (accounts.AccountStatusCheck): a balance running out shows before calls fail.
    "accounts-check-status": {
        "task": "accounts.tasks.vendor_accounts_check_status_all",
        "schedule": float(_env_int("ACCOUNT_STATUS_CHECK_SECONDS", 3600, minimum=60)),
    },
    # Retention: old delivery bodies emptied, old deliveries and (if set) call records
    # deleted, in short batches (callbacks/retention.py).
    "callbacks-prune-retention": {
        "task": "callbacks.tasks.retention_prune",
        "schedule": float(_env_int("RETENTION_PRUNE_SECONDS", 600, minimum=10)),
    },
    # The dashboards' rollups: recent hours and hours with late CDRs recomputed.
    "callbacks-refresh-rollups": {
        "task": "callbacks.tasks.rollup_refresh",
        "schedule": float(_env_int("ROLLUP_REFRESH_SECONDS", 60, minimum=5)),
    },
}
ACCOUNT_STATUS_HISTORY_DAYS = _env_int("ACCOUNT_STATUS_HISTORY_DAYS", 90, minimum=1)

# Messaging sends (messaging/limits.py). Defaults for accounts without a SendPolicy row;
# 0 means no limit. The limiter keeps its counters in Redis when REDIS_URL (or else a
# redis:// broker) is set, else in the database (the quick start's SQLite).
REDIS_URL = env.str("REDIS_URL", default="")
# The cache (callbacks.stats keeps dashboard figures there, keyed by the rollups'
# version, which the worker's refresh renews): Redis at REDIS_URL, else the broker's
# when it is redis://, shared by web and worker processes. Without Redis (the quick
# start) nothing is cached: a cache of one process's own would not hear of the
# worker's refreshes.
_CACHE_REDIS = REDIS_URL or (
    CELERY_BROKER_URL if CELERY_BROKER_URL.startswith(("redis://", "rediss://")) else ""
)
CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": _CACHE_REDIS,
            "KEY_PREFIX": "ccp",
        }
        if _CACHE_REDIS
        else {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}
    )
}
MESSAGING_SENDS_PER_MINUTE = _env_int("MESSAGING_SENDS_PER_MINUTE", 60)
MESSAGING_SENDS_PER_DAY = _env_int("MESSAGING_SENDS_PER_DAY", 10000)
MESSAGING_RECIPIENT_SENDS_PER_HOUR = _env_int("MESSAGING_RECIPIENT_SENDS_PER_HOUR", 5)

# Call records and recordings (callbacks/conf.py reads these).
CALLBACKS_RECORDING_DELAY_SECONDS = _env_int("RECORDING_DELAY_SECONDS", 120)
CALLBACKS_RECORDING_MAX_ATTEMPTS = _env_int("RECORDING_MAX_ATTEMPTS", 8, minimum=1)
CALLBACKS_RECORDING_BACKOFF_SECONDS = _env_int("RECORDING_BACKOFF_SECONDS", 60, minimum=1)
CALLBACKS_RECORDING_LINK_LIFETIME_HOURS = _env_int("RECORDING_LINK_LIFETIME_HOURS", 24, minimum=1)
CALLBACKS_RECORDING_LEASE_SECONDS = _env_int("RECORDING_LEASE_SECONDS", 90, minimum=20)
CALLBACKS_CDR_GAP_MINUTES = _env_int("CDR_GAP_MINUTES", 10, minimum=1)
# Deliveries normalized per transaction, and the shortest gap between two
# normalization tasks one web process asks for (callbacks/queue.py).
CALLBACKS_NORMALIZE_BATCH = _env_int("NORMALIZE_BATCH", 200, minimum=1)
CALLBACKS_NORMALIZE_WINDOW_SECONDS = _env_int("NORMALIZE_WINDOW_MS", 200, minimum=0) / 1000
# Retention in days (0: keep for ever): raw delivery bodies, delivery rows, call
# records with their events (the rollups keep their figures): callbacks/retention.py.
CALLBACKS_DELIVERY_BODY_RETENTION_DAYS = _env_int("DELIVERY_BODY_RETENTION_DAYS", 30)
CALLBACKS_DELIVERY_RETENTION_DAYS = _env_int("DELIVERY_RETENTION_DAYS", 180)
CALLBACKS_CALL_RECORD_RETENTION_DAYS = _env_int("CALL_RECORD_RETENTION_DAYS", 0)
CALLBACKS_EXPORT_BACKGROUND_ROWS = _env_int("EXPORT_BACKGROUND_ROWS", 100_000, minimum=0)
CALLBACKS_EXPORT_FILE_HOURS = _env_int("EXPORT_FILE_HOURS", 24, minimum=1)
# Rollups (callbacks/rollups.py): hours recomputed on every refresh (besides those
# with changed records), and how far before the previous refresh it looks for
# records changed in transactions that committed late.
ROLLUP_RECENT_HOURS = _env_int("ROLLUP_RECENT_HOURS", 1, minimum=1)
ROLLUP_WATERMARK_MARGIN_SECONDS = _env_int("ROLLUP_WATERMARK_MARGIN_SECONDS", 300)

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "core.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["core.permissions.ModelPermissions"],
    "DEFAULT_PAGINATION_CLASS": "core.api.LimitOffsetPagination",
    # core.parsers.JSONParser refuses deep nesting and lone surrogates with 400.
    "DEFAULT_PARSER_CLASSES": [
        "core.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "ccp_console API",
    "DESCRIPTION": "Vendor accounts, X-number pool, privacy-number bindings and call records.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # Self-hosted Swagger UI assets: the docs work without reaching a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # Several models have a `kind`; name each enum after its model so the schema is valid.
    "ENUM_NAME_OVERRIDES": {
        "BindingKindEnum": "privacy.models.kind_choices",
        "MessageKindEnum": "messaging.models.Message.Kind",
        "SendStateEnum": "messaging.models.SendState",
    },
}

# Behind a reverse proxy: trust X-Forwarded-Proto/Host so the console rebuilds the URL
# the vendor signed (a common cause of failed webhook signatures elsewhere).
TRUSTED_PROXY = env.bool("TRUSTED_PROXY", default=False)
if TRUSTED_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = True

if not DEBUG:
    SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=True)
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
    SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy (django-csp): scripts and styles only from our own static
# files, no inline code, so injected markup cannot run. The pages keep their JS in
# static/js and their styles in static/css; the API docs load their init script from
# a URL (SpectacularSwaggerSplitView). data: images are Swagger UI's icons and the
# empty favicon.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # Lockouts are warnings; each attempt is an AccessAttempt row in the admin.
        "axes": {"level": "WARNING"},
    },
}

# The built-in vendor sandbox under /sandbox/: on for the demo, off in production.
SANDBOX_ENABLED = env.bool("SANDBOX_ENABLED", default=DEBUG)
