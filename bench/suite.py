"""Bellyfed's performance suite (issue 8): each figure against a baseline measured in the same run.

Everything HTTP goes through gunicorn as the Procfile runs it (gunicorn.conf.py: sync, 3 workers),
loaded by wrk (-t2 -c32) on the same 2 cores. Four servers run side by side, differing only in
configuration: ``default`` (as shipped), ``uncached`` (page, search and API caches off),
``untracked`` (analytics off) and ``dynamodb-caches`` (page cache off: the search and API caches
in DynamoDB, here moto's server, alone). Each round measures every scenario once, in turn, and
figures are the medians over rounds, so slow drifts of a shared machine hit a figure and its
baseline alike.

Usage: ``make bench`` (scripts/bench: prepares the data set and services, then runs this), or
    .venv/bin/python bench/suite.py --database-url URL [--rounds 3] [--seconds 10]
with Redis, moto's server (AWS_ENDPOINT_URL_DYNAMODB) and wrk available. The report is printed
and written to bench/results/suite-<UTC time>.md.
"""

from __future__ import annotations

import argparse
import http.client
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote_plus as quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

from bellyfed.search.params import encode_cursor  # noqa: E402
from bench.analytics import ingestion  # noqa: E402

AGENT = "Mozilla/5.0 (bench) Chrome/130"
BENCH_REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
RESULT = re.compile(r"BENCH requests=(\d+) seconds=([\d.]+) rps=([\d.]+) p50=([\d.]+) "
                    r"p95=([\d.]+) p99=([\d.]+) errors=(\d+) non2xx=(\d+)")  # fmt: skip
SERVERS = {
    "default": {},
    "uncached": {"PAGE_CACHE_SECONDS": "0", "SEARCH_CACHE_SECONDS": "0", "API_CACHE_SECONDS": "0"},
    "untracked": {"ANALYTICS_ENABLED": "0"},
    "dynamodb-caches": {"PAGE_CACHE_SECONDS": "0"},  # the search and API caches alone (moto)
}
KEYSET_DEPTH = 10_000
RESULTS = ROOT / "bench" / "results"


@dataclass
class Run:
    rps: float
    p50: float
    p95: float
    p99: float


@dataclass
class Scenario:
    name: str
    server: str
    paths: list[str]
    results: list[Run] = field(default_factory=list)

    def median(self, attribute: str) -> float:
        return statistics.median(getattr(r, attribute) for r in self.results)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def gunicorn(name: str, env: dict[str, str]) -> Iterator[int]:
    """A gunicorn started as the Procfile starts it, on a free port; yields the port. Its log goes
    to bench/results/gunicorn-<name>.log (a pipe nobody reads would fill and stall the server)."""
    port = free_port()
    RESULTS.mkdir(exist_ok=True)
    with (RESULTS / f"gunicorn-{name}.log").open("w") as log:
        process = subprocess.Popen([str(ROOT / ".venv/bin/gunicorn"), "wsgi:app"], cwd=ROOT,
                                   env={**env, "PORT": str(port)}, stdout=log, stderr=log)  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while True:
                with socket.socket() as sock:
                    if sock.connect_ex(("127.0.0.1", port)) == 0:
                        break
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"gunicorn did not start: see {log.name}")
                time.sleep(0.2)
            yield port
        finally:
            process.terminate()
            process.wait(timeout=30)


def wrk(port: int, paths: list[str], seconds: int) -> Run:
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as listing:
        listing.write("\n".join(paths) + "\n")
        listing.flush()
        out = subprocess.run(
            ["wrk", "-t2", "-c32", f"-d{seconds}s", "-s", str(ROOT / "bench/paths.lua"),
             f"http://127.0.0.1:{port}", "--", listing.name, f"User-Agent: {AGENT}"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    match = RESULT.search(out)
    if match is None:
        raise RuntimeError(f"wrk printed no result:\n{out}")
    requests, _, rps, p50, p95, p99, errors, non2xx = match.groups()
    if not int(requests) or int(errors) or int(non2xx):
        raise RuntimeError(
            f"{errors} errors ({non2xx} non-2xx/3xx) in {requests} requests: {paths[:3]}"
        )
    return Run(float(rps), float(p50), float(p95), float(p99))


def first_response(port: int, path: str) -> None:
    """Fail early, with the answer, if a scenario's path does not work (redirects not followed:
    /go/ answers with a link to a map site, which the bench never visits)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("GET", path, headers={"User-Agent": AGENT})
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    if response.status not in (200, 302):
        raise RuntimeError(f"{path}: HTTP {response.status}: {body[:500]!r}")


# --- the data the scenarios ask for -----------------------------------------------------------


@dataclass
class Picks:
    counts: dict[str, int]
    top_slug: str
    spread_slugs: list[str]
    ids: list[int]
    board: str
    searches: list[str]
    cities: list[str]
    keyset_city: str
    keyset_cursor: str


def pick(database_url: str) -> Picks:
    engine = create_engine(database_url)
    with engine.connect() as conn:
        one = lambda sql, **kw: conn.execute(text(sql), kw).scalar_one()  # noqa: E731
        rows = lambda sql, **kw: conn.execute(text(sql), kw).all()  # noqa: E731
        counts = {t: one(f"SELECT count(*) FROM {t}")  # noqa: S608 - fixed table names
                  for t in ("restaurants", "dishes", "users", "rankings", "reviews")}  # fmt: skip
        active = "FROM restaurants WHERE is_active"
        top_slug = one(f"SELECT slug {active} ORDER BY ranking_points DESC, id LIMIT 1")
        spread = [r[0] for r in rows(f"SELECT slug {active} ORDER BY md5(slug) LIMIT 500")]
        ids = [r[0] for r in rows(f"SELECT id {active} ORDER BY md5(id::text) LIMIT 500")]
        board = rows("""SELECT t.slug, c.slug FROM leaderboard_entries e
                        JOIN dish_types t ON t.id = e.dish_type_id JOIN cities c ON c.id = e.city_id
                        GROUP BY t.slug, c.slug ORDER BY count(*) DESC LIMIT 1""")[0]
        cities = [
            r[0]
            for r in rows("""SELECT c.slug FROM cities c JOIN restaurants r
                        ON r.city_id = c.id GROUP BY c.slug ORDER BY count(*) DESC LIMIT 5""")
        ]
        dish_types = [
            r[0]
            for r in rows("""SELECT t.name FROM dish_types t JOIN dishes d
                        ON d.dish_type_id = t.id GROUP BY t.name ORDER BY count(*) DESC LIMIT 8""")
        ]
        cuisines = [r[0] for r in rows("SELECT name FROM cuisines ORDER BY id LIMIT 4")]
        keyset_city = cities[0]
        value, row_id = rows(
            """SELECT ranking_points, id FROM restaurants WHERE is_active
               AND city_id = (SELECT id FROM cities WHERE slug = :city)
               ORDER BY ranking_points DESC, id DESC OFFSET :depth LIMIT 1""",
            city=keyset_city, depth=KEYSET_DEPTH - 1,
        )[0]  # fmt: skip
    engine.dispose()
    searches = []
    for n, name in enumerate(dish_types):
        city = cities[n % len(cities)]
        typo = name[:-2] + name[-1] if len(name) > 5 else name  # one letter dropped
        searches += [f"q={quote(name)}&city={city}", f"q={quote(typo)}&city={city}&price=2",
                     f"q={quote(name.split()[0])}&city={city}&open_now=1"]  # fmt: skip
    searches += [f"q={quote(c)}&city={cities[0]}" for c in cuisines] + [f"q={quote(dish_types[0])}"]
    return Picks(counts, top_slug, spread, ids, f"/dishes/{board[0]}/{board[1]}", searches,
                 cities, keyset_city, encode_cursor("best", value, row_id))  # fmt: skip


# --- the run ----------------------------------------------------------------------------------


def scenarios(p: Picks) -> list[Scenario]:
    api_list = f"/api/v1/restaurants?city={p.keyset_city}&sort=best"
    return [
        Scenario("hello (/healthz)", "default", ["/healthz"]),
        Scenario("restaurant page", "default", [f"/restaurants/{p.top_slug}"]),
        Scenario("restaurant page, untracked", "untracked", [f"/restaurants/{p.top_slug}"]),
        Scenario("leaderboard page", "default", [p.board]),
        Scenario("leaderboard page, uncached", "uncached", [p.board]),
        Scenario("restaurant pages, 500 distinct, uncached", "uncached",
                 [f"/restaurants/{s}" for s in p.spread_slugs]),
        Scenario("primary-key lookup (/go/<id>)", "uncached",
                 [f"/go/{i}/directions" for i in p.ids]),
        Scenario("search page, uncached", "uncached", [f"/search?{q}" for q in p.searches]),
        Scenario("search API, uncached", "uncached", [f"/api/v1/restaurants?{q}" for q in p.searches]),
        # The floor of a search response: text that matches nothing, so no card is read.
        Scenario("search page, no match, uncached", "uncached",
                 [f"/search?q=zqxj&city={c}" for c in p.cities]),
        Scenario("search API, no match, uncached", "uncached",
                 [f"/api/v1/restaurants?q=zqxj&city={c}" for c in p.cities]),
        Scenario("search page, cached", "default", [f"/search?{q}" for q in p.searches]),
        Scenario("search page, DynamoDB search cache only", "dynamodb-caches",
                 [f"/search?{q}" for q in p.searches]),
        Scenario("search API, DynamoDB API cache", "dynamodb-caches",
                 [f"/api/v1/restaurants?{q}" for q in p.searches]),
        Scenario("keyset page 1", "uncached", [api_list]),
        Scenario(f"keyset page at depth {KEYSET_DEPTH:,}", "uncached",
                 [f"{api_list}&cursor={p.keyset_cursor}"]),
    ]  # fmt: skip


def server_env(
    name: str, database_url: str, overrides: dict[str, str], prefix: str
) -> dict[str, str]:
    return {
        # Each server its own metrics directory: gunicorn empties it when it starts.
        "PROMETHEUS_MULTIPROC_DIR": str(ROOT / ".local" / f"bench-prometheus-{name}"),
        **os.environ, "DATABASE_URL": database_url, "REDIS_URL": BENCH_REDIS_URL,
        "CELERY_BROKER_URL": BENCH_REDIS_URL, "WEB_ACCESS_LOG": "0",
        "DYNAMODB_TABLE_PREFIX": prefix, "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", "testing"),
        "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"),
        "API_RATE_LIMIT_ANONYMOUS": "10000000 per minute", "API_RATE_LIMIT_ADDRESS": "10000000 per minute",
        **overrides,
    }  # fmt: skip


def create_tables(database_url: str, prefix: str) -> None:
    from bellyfed import create_app
    from bellyfed.dynamo.tables import create_tables as create
    from bellyfed.redis_client import get_redis

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "REDIS_URL": BENCH_REDIS_URL,
                      "DYNAMODB_TABLE_PREFIX": prefix})  # fmt: skip
    with app.app_context():
        create()
        get_redis().flushdb()


def measure(database_url: str, rounds: int, seconds: int, only: list[str],
            log: Callable[[str], None]) -> tuple[list[Scenario], Picks]:  # fmt: skip
    picks = pick(database_url)
    prefix = f"bench-{int(time.time())}-"
    create_tables(database_url, prefix)
    runs = [s for s in scenarios(picks) if not only or any(o in s.name for o in only)]
    with ExitStack() as stack:
        ports = {name: stack.enter_context(gunicorn(name, server_env(name, database_url, env, prefix)))
                 for name, env in SERVERS.items() if any(s.server == name for s in runs)}  # fmt: skip
        for scenario in runs:
            first_response(ports[scenario.server], scenario.paths[0])
            wrk(ports[scenario.server], scenario.paths, 2)  # warm: caches, pools, page cache
        for n in range(rounds):
            for scenario in runs:
                scenario.results.append(wrk(ports[scenario.server], scenario.paths, seconds))
                r = scenario.results[-1]
                log(f"round {n + 1}: {scenario.name}: {r.rps:,.0f} req/s, p50 {r.p50:.1f} ms, "
                    f"p95 {r.p95:.1f} ms, p99 {r.p99:.1f} ms")  # fmt: skip
    return runs, picks


@dataclass(frozen=True)
class Target:
    """One row of the issue's table: a scenario's figure against a baseline scenario's."""

    what: str
    scenario: str
    baseline: str
    attribute: str  # rps, p50, p95 or p99
    target: str
    met: Callable[[float], bool]  # given figure / baseline
    speedup: bool = False  # report baseline / figure (how many times faster)


TARGETS = (
    Target("restaurant page, throughput", "restaurant page", "hello (/healthz)", "rps", ">= 0.25",
           lambda r: r >= 0.25),
    Target("restaurant page, p99", "restaurant page", "hello (/healthz)", "p99", "<= 10",
           lambda r: r <= 10),
    Target("search API (text + filters, uncached), p95", "search API, uncached",
           "primary-key lookup (/go/<id>)", "p95", "<= 5", lambda r: r <= 5),
    Target("search page (text + filters, uncached), p95", "search page, uncached",
           "primary-key lookup (/go/<id>)", "p95", "<= 5", lambda r: r <= 5),
    Target("search page matching nothing, p95 (the floor of a search response; not a target)",
           "search page, no match, uncached", "primary-key lookup (/go/<id>)", "p95", "info",
           lambda r: True),
    Target("search API matching nothing, p95 (its floor; not a target)",
           "search API, no match, uncached", "primary-key lookup (/go/<id>)", "p95", "info",
           lambda r: True),
    Target(f"keyset page at depth {KEYSET_DEPTH:,}, p50", f"keyset page at depth {KEYSET_DEPTH:,}",
           "keyset page 1", "p50", "<= 1.5", lambda r: r <= 1.5),
    Target("cached search page, p50 (times faster)", "search page, cached", "search page, uncached",
           "p50", ">= 3", lambda r: r >= 3, speedup=True),
    Target("search page, DynamoDB search cache only, p50 (times faster; not a target)",
           "search page, DynamoDB search cache only", "search page, uncached", "p50", "info",
           lambda r: True, speedup=True),
    Target("leaderboard page, p50", "leaderboard page", "restaurant page", "p50", "<= 1.5",
           lambda r: r <= 1.5),
    Target("page with view tracking, throughput", "restaurant page", "restaurant page, untracked",
           "rps", ">= 0.95", lambda r: r >= 0.95),
)  # fmt: skip


def figure(scenario: Scenario, attribute: str) -> str:
    value = scenario.median(attribute)
    return f"{value:,.0f} req/s" if attribute == "rps" else f"{value:.1f} ms"


def report(runs: list[Scenario], picks: Picks, ingest: dict | None, recompute: str | None,
           rounds: int, seconds: int) -> str:  # fmt: skip
    by_name = {r.name: r for r in runs}
    lines = [
        f"# Bellyfed performance suite, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"Machine: {os.cpu_count()} cores, {platform.platform()}, Python {platform.python_version()}. "
        f"gunicorn sync -w3 (gunicorn.conf.py), wrk -t2 -c32, {rounds} rounds of {seconds} s per "
        "scenario, interleaved; medians over rounds.",
        "Data set: " + ", ".join(f"{n:,} {t}" for t, n in picks.counts.items()) + ".",
        "",
        "| what | figure | baseline (same run) | ratio | target | |",
        "|---|---|---|---|---|---|",
    ]  # fmt: skip
    for t in TARGETS:
        if t.scenario not in by_name or t.baseline not in by_name:
            continue
        mine, base = by_name[t.scenario], by_name[t.baseline]
        ratio = mine.median(t.attribute) / base.median(t.attribute)
        ratio = 1 / ratio if t.speedup else ratio
        lines.append(f"| {t.what} | {figure(mine, t.attribute)} | {t.baseline}: "
                     f"{figure(base, t.attribute)} | {ratio:.2f} | {t.target} | "
                     f"{'met' if t.met(ratio) else 'MISSED'} |")  # fmt: skip
    if ingest is not None:
        met = ingest["views_per_s"] >= 5000 and ingest["exact"]
        lines.append(f"| view ingestion | {ingest['views_per_s']:,.0f} views/s, exact: "
                     f"{ingest['exact']} | — | — | >= 5,000/s, exact | {'met' if met else 'MISSED'} |")  # fmt: skip
    lines += [
        "",
        "All scenarios (medians over rounds):",
        "",
        "| scenario | server | req/s | p50 ms | p95 ms | p99 ms |",
        "|---|---|---|---|---|---|",
        *(f"| {r.name} | {r.server} | {r.median('rps'):,.0f} | {r.median('p50'):.1f} | "
          f"{r.median('p95'):.1f} | {r.median('p99'):.1f} |" for r in runs),
    ]  # fmt: skip
    if ingest is not None:
        lines += ["", f"View ingestion: {ingest['views']:,} views over {ingest['entities']} "
                  f"restaurants, buffered in {ingest['buffer_s']:.2f} s and flushed to DynamoDB "
                  f"(moto) in {ingest['flush_s']:.2f} s with {ingest['writes']} writes."]  # fmt: skip
    if recompute:
        lines += ["", recompute]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL"),
        required=not os.environ.get("DATABASE_URL"),
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument(
        "--small-database-url", help="a ~100k-rankings data set, for the recompute's growth"
    )
    parser.add_argument("--only", action="append", default=[], metavar="TEXT",
                        help="run only the scenarios whose name contains TEXT (repeatable); "
                        "skips ingestion and recompute")  # fmt: skip
    args = parser.parse_args()
    started = time.monotonic()
    runs, picks = measure(args.database_url, args.rounds, args.seconds, args.only,
                          lambda line: print(line, flush=True))  # fmt: skip
    ingest = None if args.only else ingestion(100_000, 100)
    recompute = None
    if args.small_database_url and not args.only:
        from bench.leaderboards import growth_report

        recompute = growth_report(args.small_database_url, args.database_url)
    text_report = report(runs, picks, ingest, recompute, args.rounds, args.seconds)
    text_report += f"\nSuite time: {time.monotonic() - started:.0f} s.\n"
    print(text_report)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"suite-{datetime.now(UTC):%Y%m%dT%H%M}.md").write_text(text_report)


if __name__ == "__main__":
    main()
