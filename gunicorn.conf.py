"""gunicorn settings for the web service (Dockerfile, docker-compose), read from the
working directory by gunicorn itself; flags on the command line override them.

gunicorn is meant to sit behind a buffering proxy (deploy/nginx.conf): these limits
are the second line, for a request that reaches it directly or is merely huge.
"""

import os

wsgi_app = "ccp_console.wsgi"
bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# gthread keeps connections alive. Threads: a webhook waits on PostgreSQL's WAL flush,
# and more requests in flight share each flush. Measured on 2 cores with the worker
# normalizing beside (bench/bench_callbacks.py, 80 % of the saturated rate asked):
# 3x1 took 59 % of it, 3x2 75 %, 3x4 89 %; saturated alone they are alike.
worker_class = "gthread"
workers = int(os.environ.get("WEB_WORKERS", "3"))
threads = int(os.environ.get("WEB_THREADS", "4"))
# Above nginx's upstream keepalive reuse, below its keepalive_timeout.
keepalive = 5

# A worker that does not check in for this long is killed and replaced; on restart,
# requests in flight get graceful_timeout to finish.
timeout = 30
graceful_timeout = 30

# Request-line and header limits (bytes / count); larger requests get a 400 at once.
limit_request_line = 4094
limit_request_fields = 50
limit_request_field_size = 8190
