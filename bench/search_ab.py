"""Two versions of the search side by side under gunicorn and wrk, in one run, taking turns.

``bench/suite.py``'s search scenarios (page, API, matching nothing) and its primary-key lookup,
each asked of two ``uncached`` servers: one from this repository ("after") and one from a copy of
it (``--before-root``, e.g. the tree with the search files as they were), alternating which goes
first each round. Prints per-round figures, then per version the medians and the ratios to its
own key lookup, so a change is judged against the code before it under the same load.

Usage (the data set, Redis and moto's server as ``scripts/bench`` sets them up; the copy needs a
``.venv`` link to this repository's):
    .venv/bin/python bench/search_ab.py --database-url URL --before-root /path/to/copy [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import suite


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--before-root", required=True, type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    picks = suite.pick(args.database_url)
    prefix = f"bench-ab-{int(time.time())}-"
    suite.create_tables(args.database_url, prefix)
    paths = {
        "key lookup": [f"/go/{i}/directions" for i in picks.ids],
        "search page": [f"/search?{q}" for q in picks.searches],
        "search API": [f"/api/v1/restaurants?{q}" for q in picks.searches],
        "no match, page": [f"/search?q=zqxj&city={c}" for c in picks.cities],
        "no match, API": [f"/api/v1/restaurants?q=zqxj&city={c}" for c in picks.cities],
    }
    roots = {"after": suite.ROOT, "before": args.before_root.resolve()}
    runs: dict[tuple[str, str], list[suite.Run]] = {(v, s): [] for v in roots for s in paths}
    with ExitStack() as stack:
        ports = {}
        for version, root in roots.items():
            suite.ROOT = root  # gunicorn() starts the server from this tree
            env = suite.server_env(f"ab-{version}", args.database_url, suite.SERVERS["uncached"],
                                   prefix)  # fmt: skip
            ports[version] = stack.enter_context(suite.gunicorn(f"ab-{version}", env))
        suite.ROOT = roots["after"]
        for port in ports.values():
            for scenario in paths.values():
                suite.first_response(port, scenario[0])
                suite.wrk(port, scenario, 2)  # warm
        for n in range(args.rounds):
            order = ("before", "after") if n % 2 == 0 else ("after", "before")
            for name, scenario in paths.items():
                for version in order:
                    r = suite.wrk(ports[version], scenario, args.seconds)
                    runs[(version, name)].append(r)
                    print(f"round {n + 1} {version:6} {name:15} {r.rps:7,.0f} req/s, "
                          f"p50 {r.p50:6.1f} ms, p95 {r.p95:6.1f} ms", flush=True)  # fmt: skip
    for version in roots:
        median = {s: (statistics.median(r.rps for r in runs[(version, s)]),
                      statistics.median(r.p95 for r in runs[(version, s)])) for s in paths}  # fmt: skip
        key_rps, key_p95 = median["key lookup"]
        print(f"\n{version}: key lookup {key_rps:,.0f} req/s, p95 {key_p95:.1f} ms")
        for name, (rps, p95) in list(median.items())[1:]:
            print(f"  {name:15} {rps:6,.0f} req/s, p95 {p95:6.1f} ms: p95 {p95 / key_p95:.2f}x "
                  f"the key lookup's, throughput 1/{key_rps / rps:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
