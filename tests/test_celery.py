"""ccp_console.celery.worker_argv: the one worker command line (tests' fixture, benchmarks)."""

import sys

from ccp_console.celery import worker_argv


def test_worker_argv_consumes_only_its_queue_under_its_name():
    argv = worker_argv("q1", concurrency=3, loglevel="WARNING")
    assert argv[:6] == [sys.executable, "-m", "celery", "-A", "ccp_console", "worker"]
    options = dict(zip(argv[6::2], argv[7::2], strict=False))
    assert options["-Q"] == "q1"
    assert options["--hostname"] == "q1@localhost"
    assert options["--pool"] == "threads"
    assert options["--concurrency"] == "3"
    assert options["--loglevel"] == "WARNING"
    assert {"--without-gossip", "--without-mingle", "--without-heartbeat"} <= set(argv)
