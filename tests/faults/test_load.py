"""A bounded load on loopback for a few minutes (FAULT_LOAD_SECONDS, default 150) against gunicorn
on the private services, shaped like the benchmark (32 connections, closed loop), with the worker
and beat running as the Procfile runs them: no 5xx, no gunicorn worker restarted, memory flat, and
every view served counted exactly once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

from tests.faults.conftest import LEDGER, Stack
from tests.faults.services import VENV_BIN, Process, rss_kib

SECONDS = float(os.environ.get("FAULT_LOAD_SECONDS", "150"))
CONNECTIONS = int(os.environ.get("FAULT_LOAD_CONNECTIONS", "32"))
SAMPLE_EVERY = 5.0
# After the warm-up (caches filled, pools opened) a worker's resident memory may move by this
# much and no more: the page cache is bounded, the paths are few, nothing else should grow.
GROWTH_LIMIT_KIB = 24 * 1024


def sample_memory(stack: Stack, until: float, samples: list[dict[int, int]]) -> None:
    while time.monotonic() < until:
        samples.append({pid: rss_kib(pid) for pid in stack.web.workers()})
        time.sleep(SAMPLE_EVERY)


def test_bounded_load_has_no_5xx_flat_memory_and_counts_every_view(healthy):
    stack = healthy
    expected = stack.view_totals()
    workers = sorted(stack.web.workers())
    beat = Process(
        "beat",
        [str(VENV_BIN / "celery"), "-A", "worker.app", "beat", "--loglevel=INFO",
         f"--schedule={stack.root / 'celerybeat-schedule'}"],
        stack.root / "beat.log", stack.worker.env,
    )  # fmt: skip
    beat.start()
    paths_file = stack.root / "load-paths.txt"
    paths_file.write_text("\n".join(stack.paths) + "\n")
    samples: list[dict[int, int]] = []
    sampler = threading.Thread(
        target=sample_memory, args=(stack, time.monotonic() + SECONDS, samples), daemon=True
    )
    try:
        sampler.start()
        load = subprocess.run(
            [sys.executable, "-m", "tests.faults.load", stack.web.url, str(paths_file),
             str(SECONDS), str(CONNECTIONS)],
            capture_output=True, text=True, check=True, timeout=SECONDS + 120,
        )  # fmt: skip
        sampler.join()
    finally:
        beat.kill()
    result = json.loads(load.stdout)
    by_status: dict[int, int] = {}
    for key, n in result["responses"].items():
        status = int(key.split(" ", 1)[0])
        by_status[status] = by_status.get(status, 0) + n
    fivexx = sum(n for status, n in by_status.items() if status >= 500)
    LEDGER["requests"] += result["requests"]
    LEDGER["5xx seen"] += fivexx
    LEDGER["load requests"] += result["requests"]
    LEDGER["load req/s"] = round(result["requests"] / result["seconds"])
    growth = _growth(samples)
    LEDGER["load max RSS growth KiB"] = max(growth.values(), default=0)
    print(f"load: {result['requests']} requests in {result['seconds']:.0f} s "
          f"({result['requests'] / result['seconds']:.0f}/s), statuses {by_status}, "
          f"errors {result['errors']}, RSS growth after warm-up (KiB) {growth}")  # fmt: skip

    assert fivexx == 0, by_status
    assert set(by_status) == {200}, by_status
    assert result["errors"] == {}, result["errors"]
    assert sorted(stack.web.workers()) == workers, "a gunicorn worker was replaced under load"
    assert growth, "too few memory samples"
    assert max(growth.values()) < GROWTH_LIMIT_KIB, growth

    # Every restaurant page served was one view: all of them, once each, in DynamoDB.
    slugs = {f"/restaurants/{slug}": rid for rid, slug in stack.restaurants}
    for key, n in result["responses"].items():
        status, path = key.split(" ", 1)
        if status == "200" and path in slugs:
            expected[slugs[path]] = expected.get(slugs[path], 0) + n
            LEDGER["views sent"] += n
    stack.wait_for_batches()
    stack.flush_until(expected, 60)


def _growth(samples: list[dict[int, int]]) -> dict[int, int]:
    """Per worker: its RSS at the end minus at the end of the warm-up (the first fifth)."""
    if len(samples) < 4:
        return {}
    warm = samples[max(1, len(samples) // 5)]
    last = samples[-1]
    return {pid: last[pid] - warm[pid] for pid in last if pid in warm}
