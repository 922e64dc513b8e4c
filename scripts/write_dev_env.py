"""Print a .env for local development: DEBUG on and freshly generated keys.

Nothing else is needed: without DATABASE_URL the console uses a SQLite file, and
without CELERY_BROKER_URL an embedded broker (a SQLite file under run/). The two
lines naming port 8000 are for commands run by hand: `make run` sets PUBLIC_BASE_URL
and OUTBOUND_PRIVATE_ALLOWLIST from its HOST and PORT.
"""

import secrets

from cryptography.fernet import Fernet

print("DEBUG=1")
print(f"SECRET_KEY={secrets.token_urlsafe(50)}")
print(f"FIELD_ENCRYPTION_KEY={Fernet.generate_key().decode()}")
print("PUBLIC_BASE_URL=http://127.0.0.1:8000")
# The demo accounts call the built-in sandbox on this very server: allow exactly that.
print("OUTBOUND_PRIVATE_ALLOWLIST=127.0.0.1:8000,localhost:8000")
# Production waits 120 s for the vendor to publish a recording; the sandbox is quicker.
print("RECORDING_DELAY_SECONDS=15")
print("# DATABASE_URL=postgres://postgres@127.0.0.1:5432/ccp_console")
print("# CELERY_BROKER_URL=redis://127.0.0.1:6379/0")
