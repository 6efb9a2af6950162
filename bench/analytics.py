"""View ingestion (issue 4): views pushed through the Redis buffer exactly as requests write
them, then flushed to DynamoDB (moto's server): views/s end to end, writes per flush, totals
checked exact. bench/suite.py runs it with the rest; what tracking costs a page is the suite's
"restaurant page" against "restaurant page, untracked".

Usage (Redis, and moto on :4566 as `make run` leaves it):
    .venv/bin/python bench/analytics.py [--views 100000] [--entities 100]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Its own Redis database, emptied before and after, so bench views never reach a real buffer.
BENCH_REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")


def ingestion(views: int, entities: int) -> dict[str, float]:
    from bellyfed import create_app
    from bellyfed.analytics import keys
    from bellyfed.analytics.flush import flush
    from bellyfed.dynamo import counters
    from bellyfed.dynamo.tables import create_tables
    from bellyfed.redis_client import get_redis

    app = create_app({"REDIS_URL": BENCH_REDIS_URL,
                      "DYNAMODB_TABLE_PREFIX": f"bench-{int(time.time())}-"})  # fmt: skip
    with app.app_context():
        create_tables()
        client = get_redis()
        client.flushdb()
        minute = keys.minute_of(datetime.now(UTC))
        ids = range(9_000_001, 9_000_001 + entities)
        started = time.perf_counter()
        pipe = client.pipeline(transaction=False)
        for n in range(views):  # one HINCRBY per view, as the request path writes it
            pipe.hincrby(
                keys.BUFFER, keys.field("view", f"restaurant:{ids[n % entities]}", minute), 1
            )
            if n % 5000 == 4999:
                pipe.execute()
        pipe.execute()
        buffered = time.perf_counter()
        report = flush(client)
        done = time.perf_counter()
        exact = sum(counters.count(f"view#restaurant:{i}") for i in ids) == views
        client.flushdb()
    return {"views": views, "entities": entities, "buffer_s": buffered - started, "flush_s": done - buffered,
            "views_per_s": views / (done - started), "writes": report.writes,
            "writes_per_entity_bucket": report.writes / (2 * entities + 2), "exact": exact}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--views", type=int, default=100_000)
    parser.add_argument("--entities", type=int, default=100)
    args = parser.parse_args()
    ingest = ingestion(args.views, args.entities)
    report = (
        f"# View ingestion ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores)\n\n"
        f"{ingest['views']:,} views over {ingest['entities']} restaurants: buffered in "
        f"{ingest['buffer_s']:.2f} s, flushed in {ingest['flush_s']:.2f} s -> "
        f"{ingest['views_per_s']:,.0f} views/s (target >= 5,000), {ingest['writes']} writes = "
        f"{ingest['writes_per_entity_bucket']:.2f} per entity per bucket (target <= 1), "
        f"exact: {ingest['exact']}"
    )
    print(report)
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / f"analytics-{datetime.now(UTC):%Y%m%dT%H%M}.md").write_text(report + "\n")


if __name__ == "__main__":
    main()
