"""The deployment files: deploy/nginx.conf is valid nginx, gunicorn.conf.py sets the limits.

bench/bench_slowloris.py measures what they are for; these only catch a broken file.
"""

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gunicorn_config_sets_timeouts_and_request_limits():
    conf = _load(ROOT / "gunicorn.conf.py", "gunicorn_conf")
    assert conf.wsgi_app == "ccp_console.wsgi"
    assert conf.worker_class == "gthread"
    assert 0 < conf.timeout <= 60 and 0 < conf.graceful_timeout <= 60
    assert conf.limit_request_line <= 8190
    assert conf.limit_request_fields <= 100
    assert conf.limit_request_field_size <= 8190


@pytest.mark.skipif(
    not (shutil.which("nginx") or Path("/usr/sbin/nginx").exists()), reason="needs nginx"
)
def test_nginx_config_is_valid(tmp_path):
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        bench = _load(ROOT / "bench" / "bench_slowloris.py", "bench_slowloris")
    finally:
        sys.path.remove(str(ROOT / "bench"))
    text = bench.nginx_config(18000, 18001, tmp_path)
    for directive in (
        "client_header_timeout 10s;",
        "client_body_timeout 10s;",
        "send_timeout 30s;",
        "keepalive_timeout 15s;",
        "client_max_body_size 5m;",
        "proxy_request_buffering on;",
        "proxy_buffering on;",
    ):
        assert directive in text
    conf = tmp_path / "nginx.conf"
    conf.write_text(text)
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    result = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-c", str(conf)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
