"""Under gunicorn (gunicorn.conf.py, as the Procfile runs it) /metrics sums every worker process,
starts from an empty directory, and forgets a dead worker's live gauges."""

from __future__ import annotations

import os
import runpy
import signal
import subprocess
import sys
import time
import urllib.request

from bellyfed import PROJECT_ROOT
from tests.conftest import DYNAMODB_PREFIX, TEST_REDIS_URL, free_port, wait_for_port
from tests.ops.conftest import Scrape


def get(port: int, path: str) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
        return response.read().decode()


def pids_with_gauges(directory) -> set[int]:
    return {int(p.stem.rsplit("_", 1)[1]) for p in directory.glob("gauge_livesum_*.db")}


def test_the_workers_report_as_one(app, database_url, aws_endpoint, tmp_path):
    directory = tmp_path / "prometheus"
    directory.mkdir()
    (directory / "counter_999999.db").write_bytes(b"left over from a previous run")
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": TEST_REDIS_URL,
           "CELERY_BROKER_URL": TEST_REDIS_URL, "AWS_ENDPOINT_URL_DYNAMODB": aws_endpoint,
           "DYNAMODB_TABLE_PREFIX": DYNAMODB_PREFIX, "PORT": str(port), "WEB_CONCURRENCY": "2",
           "WEB_ACCESS_LOG": "0", "PROMETHEUS_MULTIPROC_DIR": str(directory)}  # fmt: skip
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "wsgi:app"], cwd=PROJECT_ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        wait_for_port(port, 30)
        assert not (directory / "counter_999999.db").exists()
        for _ in range(12):
            get(port, "/healthz")
        deadline = time.monotonic() + 20  # each worker imports the app before it sets its gauges
        while len(pids_with_gauges(directory)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        workers = pids_with_gauges(directory)
        assert len(workers) == 2
        sample = Scrape(get(port, "/metrics"))
        healthz = {"endpoint": "ops.healthz", "method": "GET", "status": "200"}
        assert sample.value("bellyfed_http_requests_total", **healthz) == 12
        assert sample.value("bellyfed_db_pool_size") == 2 * 5  # livesum over the workers

        killed = workers.pop()
        os.kill(killed, signal.SIGKILL)  # gunicorn replaces it; child_exit drops its gauges
        deadline = time.monotonic() + 20
        while killed in (live := pids_with_gauges(directory)) or len(live) != 2:
            assert time.monotonic() < deadline, sorted(p.name for p in directory.iterdir())
            time.sleep(0.2)
        # The new worker's gauge file appears (at 0) when it imports the metrics, before it sets
        # its pool size: wait for that, then it must be 2 workers' worth, not 3 processes'.
        deadline = time.monotonic() + 20
        while (after := Scrape(get(port, "/metrics"))).value("bellyfed_db_pool_size") != 2 * 5:
            assert time.monotonic() < deadline, after.value("bellyfed_db_pool_size")
            time.sleep(0.2)
        assert after.value("bellyfed_http_requests_total", **healthz) == 12  # counters persist
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as response:
            assert response.headers["Server"] == "gunicorn"  # no version number (ASVS 14.3.3)
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert server.returncode == 0, output


def test_only_the_workers_get_the_metrics_directory(monkeypatch, tmp_path):
    # Set in the master, it would reach whatever else the master or this shell starts (a Celery
    # worker, a flask command), which would then write into the web's directory.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "placeholder")
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR")
    monkeypatch.chdir(tmp_path)  # the default directory is relative to where gunicorn starts
    settings = runpy.run_path(str(PROJECT_ROOT / "gunicorn.conf.py"))
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ
    assert settings["PROMETHEUS_DIR"] == str(tmp_path / ".local" / "prometheus")
    assert settings["preload_app"] is False  # the workers import the app after post_fork
    settings["post_fork"](None, None)
    assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == settings["PROMETHEUS_DIR"]


def test_the_access_log_never_shows_a_secret_from_a_url():
    settings = runpy.run_path(str(PROJECT_ROOT / "gunicorn.conf.py"))
    redact = settings["redact"]
    line = '"GET /auth/reset/qIMDpgqGJr4GZcyVeTT7MefX17cEDIr0i1V7o73nnnY HTTP/1.1" 303'
    assert redact(line) == '"GET /auth/reset/[redacted] HTTP/1.1" 303'
    assert redact("/account/tokens/new/abc_DEF-123?x=1") == "/account/tokens/new/[redacted]?x=1"
    assert redact("/auth/reset") == "/auth/reset"
    assert settings["logger_class"].__name__ == "RedactingLogger"
