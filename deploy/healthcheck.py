"""docker-compose's health check of the web service: GET /healthz on gunicorn directly.

Sends a Host the console accepts (the first of ALLOWED_HOSTS) and X-Forwarded-Proto
https, as the proxy would: a bare 127.0.0.1 request gets a 400 (host not allowed) or
a redirect (SECURE_SSL_REDIRECT) and would mark a healthy console unhealthy.
Exit status 0 when /healthz answers 200 (the database answers too).
"""

import os
import sys
import urllib.request

hosts = [h.strip().lstrip(".") for h in os.environ.get("ALLOWED_HOSTS", "").split(",")]
host = next((h for h in hosts if h and h != "*"), "localhost")
request = urllib.request.Request(
    "http://127.0.0.1:8000/healthz",
    headers={"Host": host, "X-Forwarded-Proto": "https"},
)
try:
    with urllib.request.urlopen(request, timeout=3) as response:  # noqa: S310 - fixed URL
        sys.exit(0 if response.status == 200 else 1)
except Exception as exc:  # any failure is "unhealthy"; say which for `docker inspect`
    print(f"unhealthy: {exc}", file=sys.stderr)
    sys.exit(1)
