"""Analytics benchmarks (issue 4), each figure against a baseline measured in the same run.

(a) Request overhead: the restaurant page under gunicorn (the Procfile's settings), tracking on
    vs off, with wrk; runs alternate off/on/off/on... and the medians are compared.
(b) Ingestion: views pushed through the buffer exactly as requests write them, then flushed to
    DynamoDB (moto's server): views/s end to end, writes per flush, totals checked exact.

Usage (services as `make run` leaves them: PostgreSQL with demo data, Redis, moto on :4566):
    .venv/bin/python bench/analytics.py [--rounds 3] [--seconds 10]
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

AGENT = "Mozilla/5.0 (bench) Chrome/130"
# Its own Redis database, emptied before and after, so bench views never reach a real buffer.
BENCH_REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def gunicorn(port: int, tracking: bool) -> subprocess.Popen:
    env = {
        **os.environ,
        "PORT": str(port),
        "ANALYTICS_ENABLED": "1" if tracking else "0",
        "WEB_ACCESS_LOG": "0",
        "REDIS_URL": BENCH_REDIS_URL,
    }
    process = subprocess.Popen([str(ROOT / ".venv/bin/gunicorn"), "wsgi:app"], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return process
        time.sleep(0.2)
    raise RuntimeError("gunicorn did not start")


def wrk(url: str, seconds: int) -> tuple[float, float]:
    """(requests/s, p99 ms) from wrk -t2 -c32."""
    out = subprocess.run(["wrk", "-t2", "-c32", f"-d{seconds}s", "--latency", "-H", f"User-Agent: {AGENT}", url],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    return rps, float(p99.group(1)) * scale


def request_overhead(slug: str, rounds: int, seconds: int) -> dict[str, float]:
    results: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
    for _ in range(rounds):
        for tracking in (False, True):
            port = free_port()
            server = gunicorn(port, tracking)
            try:
                wrk(f"http://127.0.0.1:{port}/restaurants/{slug}", 2)  # warm up
                results[tracking].append(
                    wrk(f"http://127.0.0.1:{port}/restaurants/{slug}", seconds)
                )
            finally:
                server.terminate()
                server.wait(timeout=30)
    off = statistics.median(r for r, _ in results[False])
    on = statistics.median(r for r, _ in results[True])
    return {"rps_off": off, "rps_on": on, "ratio": on / off,
            "p99_off_ms": statistics.median(p for _, p in results[False]),
            "p99_on_ms": statistics.median(p for _, p in results[True])}  # fmt: skip


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
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--views", type=int, default=100_000)
    parser.add_argument("--entities", type=int, default=100)
    args = parser.parse_args()
    from sqlalchemy import create_engine, text

    engine = create_engine(
        os.environ.get("DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/bellyfed")
    )
    with engine.connect() as conn:
        slug = conn.execute(
            text("SELECT slug FROM restaurants ORDER BY ranking_points DESC LIMIT 1")
        ).scalar_one()
    overhead = request_overhead(slug, args.rounds, args.seconds)
    ingest = ingestion(args.views, args.entities)
    lines = [
        f"# Analytics bench ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores)",
        "",
        f"(a) restaurant page, gunicorn sync -w3, wrk -t2 -c32 {args.seconds}s x {args.rounds} rounds (medians):",
        f"    tracking off {overhead['rps_off']:.0f} req/s (p99 {overhead['p99_off_ms']:.1f} ms), "
        f"on {overhead['rps_on']:.0f} req/s (p99 {overhead['p99_on_ms']:.1f} ms): ratio {overhead['ratio']:.3f}"
        " (target >= 0.95)",
        f"(b) {ingest['views']:,} views over {ingest['entities']} restaurants: buffered in {ingest['buffer_s']:.2f} s, "
        f"flushed in {ingest['flush_s']:.2f} s -> {ingest['views_per_s']:,.0f} views/s (target >= 5,000), "
        f"{ingest['writes']} writes = {ingest['writes_per_entity_bucket']:.2f} per entity per bucket "
        f"(target <= 1), exact: {ingest['exact']}",
    ]  # fmt: skip
    report = "\n".join(lines)
    print(report)
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / f"analytics-{datetime.now(UTC):%Y%m%dT%H%M}.md").write_text(report + "\n")


if __name__ == "__main__":
    main()
