"""The suite's searches in process, caches off, against the primary-key lookup: for A/B runs.

Runs the search scenarios of ``bench/suite.py`` (the same paths: page, API, matching nothing) and
``/go/<id>`` through Flask's test client, in one process, and prints one JSON line: mean, p50 and
p95 ms per request and SQL statements per request. ``--root`` imports the app from another copy
of the repository (e.g. the search files as they were, copied aside), so two versions of the code
can take turns on the same data set and their figures be compared run by run.

Usage (PostgreSQL with the bench data set; Redis):
    .venv/bin/python bench/search_inprocess.py --database-url URL [--loops 3] [--root DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
AGENT = {"User-Agent": "Mozilla/5.0 (bench) Chrome/130"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--loops", type=int, default=3, help="passes over each scenario's paths")
    parser.add_argument("--root", default=str(ROOT), help="the repository copy to import from")
    args = parser.parse_args()
    sys.path[:0] = [args.root, str(ROOT)]  # the app from --root; bench.suite from here
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(name, "testing")

    from sqlalchemy import event

    from bellyfed import create_app
    from bench.suite import pick

    picks = pick(args.database_url)
    app = create_app({
        "SQLALCHEMY_DATABASE_URI": args.database_url, "ANALYTICS_ENABLED": False,
        "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"),
        "PAGE_CACHE_SECONDS": 0, "SEARCH_CACHE_SECONDS": 0, "API_CACHE_SECONDS": 0,
        "API_RATE_LIMIT_ANONYMOUS": "10000000 per minute",
        "API_RATE_LIMIT_ADDRESS": "10000000 per minute",
    })  # fmt: skip
    sent: list[str] = []
    with app.app_context():
        from bellyfed.extensions import db

        event.listen(db.engine, "before_cursor_execute", lambda *a: sent.append(a[2]))
    client = app.test_client()
    scenarios = {
        "key lookup": [f"/go/{i}/directions" for i in picks.ids[:60]],
        "search page": [f"/search?{q}" for q in picks.searches],
        "search API": [f"/api/v1/restaurants?{q}" for q in picks.searches],
        "no match, page": [f"/search?q=zqxj&city={c}" for c in picks.cities],
        "no match, API": [f"/api/v1/restaurants?q=zqxj&city={c}" for c in picks.cities],
    }
    for paths in scenarios.values():  # warm: connections, templates, kept aggregates
        for path in paths:
            status = client.get(path, headers=AGENT).status_code
            assert status in (200, 302), (path, status)
    figures: dict[str, object] = {"root": args.root}
    for name, paths in scenarios.items():
        timings: list[float] = []
        sent.clear()
        for _ in range(args.loops):
            for path in paths:
                started = time.perf_counter()
                client.get(path, headers=AGENT)
                timings.append((time.perf_counter() - started) * 1000)
        timings.sort()
        figures[name] = {
            "mean": round(statistics.fmean(timings), 3),
            "p50": round(statistics.median(timings), 3),
            "p95": round(timings[int(len(timings) * 0.95) - 1], 3),
            "statements": round(len(sent) / len(timings), 2),
        }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
