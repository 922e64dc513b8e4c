"""The Celery application. Settings come from Django's, under the CELERY_ prefix."""

import os
import sys

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ccp_console.settings")

app = Celery("ccp_console")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def worker_argv(queue: str, *, concurrency: int, loglevel: str = "INFO") -> list[str]:
    """The command line of a thread-pool worker consuming only `queue`, named after it.

    Shared by the tests' worker fixture and the benchmarks, so both run the worker
    the same way: no gossip, mingle or heartbeat (one worker needs none, and they
    slow its start).
    """
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "ccp_console",
        "worker",
        "-Q",
        queue,
        "--hostname",
        f"{queue}@localhost",
        "--pool",
        "threads",
        "--concurrency",
        str(concurrency),
        "--loglevel",
        loglevel,
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
