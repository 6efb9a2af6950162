"""A closed-loop HTTP load on loopback, shaped like the benchmark's wrk -t2 -c32: ``python -m
tests.faults.load BASE_URL PATHS_FILE SECONDS CONNECTIONS`` prints one JSON line with the number
of responses per path and status, connection errors, and the requests made.

Stdlib only (wrk may not be installed where the suite runs). Each of two processes runs half the
connections as threads, each looping over the paths from its own offset, one request at a time.
"""

from __future__ import annotations

import json
import multiprocessing
import socket
import sys
import threading
import time
from collections import Counter
from urllib.parse import urlsplit

BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"


def _connection_loop(host: str, port: int, paths: list[str], offset: int, until: float,
                     results: Counter, errors: Counter, lock: threading.Lock) -> None:  # fmt: skip
    """One connection's loop: a plain HTTP/1.0 GET per connection (gunicorn's sync workers close
    it after each response anyway), written by hand to keep the client's own cost low."""
    mine, failed = Counter(), Counter()
    header = f"HTTP/1.0\r\nHost: {host}:{port}\r\nUser-Agent: {BROWSER}\r\n\r\n"
    requests = [(path, f"GET {path} {header}".encode()) for path in paths]
    n = offset
    while time.monotonic() < until:
        path, raw = requests[n % len(requests)]
        n += 1
        try:
            with socket.create_connection((host, port), timeout=30) as sock:
                sock.sendall(raw)
                chunks = []
                while chunk := sock.recv(65536):
                    chunks.append(chunk)
            head = b"".join(chunks[:1])[:32].split(b" ", 2)
            mine[f"{int(head[1])} {path}"] += 1
        except (OSError, ValueError, IndexError) as exc:
            failed[type(exc).__name__] += 1
    with lock:
        results.update(mine)
        errors.update(failed)


def _process(base: str, paths: list[str], seconds: float, threads: int, first: int,
             queue: multiprocessing.Queue) -> None:  # fmt: skip
    parts = urlsplit(base)
    until = time.monotonic() + seconds
    results, errors, lock = Counter(), Counter(), threading.Lock()
    shared = (until, results, errors, lock)
    workers = [
        threading.Thread(
            target=_connection_loop,
            args=(parts.hostname, parts.port, paths, (first + i) * 7919, *shared),
        )
        for i in range(threads)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    queue.put((dict(results), dict(errors)))


def run(base: str, paths: list[str], seconds: float, connections: int) -> dict:
    queue: multiprocessing.Queue = multiprocessing.Queue()
    half = connections // 2
    processes = [
        multiprocessing.Process(target=_process, args=(base, paths, seconds, n, first, queue))
        for n, first in ((half, 0), (connections - half, half))
    ]
    started = time.monotonic()
    for process in processes:
        process.start()
    results, errors = Counter(), Counter()
    for _ in processes:
        done, failed = queue.get()
        results.update(done)
        errors.update(failed)
    for process in processes:
        process.join()
    elapsed = time.monotonic() - started
    return {"responses": dict(results), "errors": dict(errors), "seconds": elapsed,
            "requests": sum(results.values())}  # fmt: skip


if __name__ == "__main__":
    base, paths_file, seconds, connections = sys.argv[1:5]
    with open(paths_file) as handle:
        listed = [line.strip() for line in handle if line.strip()]
    print(json.dumps(run(base, listed, float(seconds), int(connections))))
