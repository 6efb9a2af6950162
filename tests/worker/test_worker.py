"""Celery wiring: tasks run inside an app context; a real worker and beat run the schedule."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from bellyfed.ops.heartbeat import KEY, last_heartbeat
from tests.conftest import TEST_REDIS_URL
from worker import tasks
from worker.schedule import BEAT_SCHEDULE


def test_tasks_run_inside_an_app_context(app, redis_client):
    # get_redis() needs current_app: this only works because FlaskTask pushes the context.
    result = tasks.heartbeat.apply()
    assert result.successful(), result.traceback
    assert last_heartbeat(redis_client) == pytest.approx(result.result)


def test_celery_is_configured_for_redelivery_not_loss(app):
    conf = app.extensions["celery"].conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.broker_transport_options["visibility_timeout"] >= 3600


def test_every_scheduled_task_exists(app):
    registered = app.extensions["celery"].tasks
    for name, entry in BEAT_SCHEDULE.items():
        assert entry["task"] in registered, name
        assert entry["schedule"] > 0


def test_a_real_worker_with_beat_runs_the_schedule(database_url, redis_client, tmp_path):
    """Start `celery worker -B` as the Procfile would; beat's first heartbeat lands in Redis."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": TEST_REDIS_URL,
        "CELERY_BROKER_URL": TEST_REDIS_URL,
    }
    command = [sys.executable, "-m", "celery", "-A", "worker.app", "worker", "-B", "--concurrency=1",
               "--pool=solo", f"--schedule={tmp_path / 'beat-schedule'}", "--loglevel=INFO"]  # fmt: skip
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and redis_client.get(KEY) is None:
            assert process.poll() is None, process.stdout.read()
            time.sleep(0.5)
        assert redis_client.get(KEY) is not None, "no heartbeat within 60 s"
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    assert "worker.tasks.heartbeat" in output
    assert process.returncode == 0, output
