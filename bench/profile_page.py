"""Where a page's time goes: renders it uncached many times under pyinstrument, in process.

Each render is a different restaurant (as a crawl or a long tail of visitors would ask), with the
page cache off, so the profile shows the full cost of a render: queries, ORM loading, template.
With ``--page-cache`` one page is asked for again and again, as signed-out visitors get it.

Usage (PostgreSQL with the demo data set; Redis; moto's server for the flags table):
    DATABASE_URL=... AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:4577 \\
    .venv/bin/python bench/profile_page.py [--pages 200] [--path-template /restaurants/{slug}]
Prints the per-render time and the call tree; writes bench/results/profile-<time>.html.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pyinstrument import Profiler  # noqa: E402
from sqlalchemy import event, text  # noqa: E402

from bellyfed import create_app  # noqa: E402
from bellyfed.extensions import db  # noqa: E402

AGENT = {"User-Agent": "Mozilla/5.0 (bench) Chrome/130"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--path-template", default="/restaurants/{slug}")
    parser.add_argument("--page-cache", action="store_true",
                        help="as a signed-out visitor gets it: one page, from the page cache")  # fmt: skip
    args = parser.parse_args()
    app = create_app({"PAGE_CACHE_SECONDS": 15 if args.page_cache else 0,
                      "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"),
                      "DYNAMODB_TABLE_PREFIX": os.environ.get("DYNAMODB_TABLE_PREFIX", "bench-profile-")})  # fmt: skip
    with app.app_context():
        from bellyfed.dynamo.tables import create_tables

        create_tables()
        slugs = db.session.scalars(
            text("SELECT slug FROM restaurants WHERE is_active ORDER BY md5(slug) LIMIT :n"),
            {"n": args.pages + 20},
        ).all()
        statements = []
        event.listen(db.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    client = app.test_client()
    paths = [args.path_template.format(slug=s) for s in slugs]
    if args.page_cache:
        paths = [paths[0]] * len(paths)
    for path in paths[:20]:  # warm: connections, templates, flags
        assert client.get(path, headers=AGENT).status_code == 200, path
    statements.clear()
    timings = []
    profiler = Profiler(interval=0.0005)
    profiler.start()
    for path in paths[20:]:
        started = time.perf_counter()
        client.get(path, headers=AGENT)
        timings.append((time.perf_counter() - started) * 1000)
    profiler.stop()
    timings.sort()
    print(f"{len(timings)} renders of {args.path_template}: median {statistics.median(timings):.1f} ms, "
          f"p95 {timings[int(len(timings) * 0.95) - 1]:.1f} ms, "
          f"{len(statements) / len(timings):.1f} SQL statements per render")  # fmt: skip
    print(profiler.output_text(unicode=True, color=False, show_all=False))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / f"profile-{datetime.now(UTC):%Y%m%dT%H%M}.html").write_text(profiler.output_html())


if __name__ == "__main__":
    main()
