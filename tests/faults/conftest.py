"""One private stack for the fault tests: PostgreSQL, Redis and moto of our own, gunicorn and a
Celery worker as the Procfile runs them, demo data loaded. Each test breaks one piece, puts it
back, and records what it did in ``LEDGER`` (printed at the end of the run for the issue note).
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import celery._state
import flask_migrate
import psycopg
import pytest
import redis
import requests
from boto3.dynamodb.conditions import Attr
from flask import Flask
from sqlalchemy import text

from bellyfed import create_app
from bellyfed.analytics import keys
from bellyfed.demo.load import DEMO_PASSWORD, load_demo
from bellyfed.demo.world import DemoSize
from bellyfed.dynamo.tables import create_tables
from bellyfed.extensions import db
from tests.conftest import MIGRATIONS
from tests.faults.services import BROWSER, Gunicorn, Moto, Postgres, Redis, Worker, wait_until
from tests.web import TOKEN

PREFIX = f"faults-{uuid.uuid4().hex[:6]}-"
RESTAURANTS = 300

# What the issue note needs, summed over the fault tests (printed by pytest_terminal_summary).
LEDGER: Counter[str] = Counter()


@dataclass
class Stack:
    root: Path
    pg: Postgres
    redis: Redis
    moto: Moto
    web: Gunicorn
    worker: Worker
    app: Flask  # in process, on the same services (moto directly, never through the forwarder)
    restaurants: list[tuple[int, str]] = field(default_factory=list)  # (id, slug)
    paths: list[str] = field(default_factory=list)  # pages a visitor reads

    # --- Redis and the queue ---------------------------------------------------------------

    def redis_client(self) -> redis.Redis:
        return redis.Redis.from_url(self.redis.url, socket_timeout=5)

    def send(self, task: str, *args: object) -> None:
        self.app.extensions["celery"].send_task(task, args=args)

    def task_runs(self, task: str, state: str = "SUCCESS") -> int:
        """Finished runs of a task, as the worker records them (bellyfed/ops/task_stats.py)."""
        value = self.redis_client().hget("bellyfed:metrics:tasks", f"{task}|state|{state}")
        return int(value or 0)

    # --- DynamoDB (read from moto directly) -------------------------------------------------

    def table(self, logical: str):
        resource = boto3.resource("dynamodb", endpoint_url=self.moto.direct,
                                  region_name="ap-southeast-1")  # fmt: skip
        return resource.Table(f"{PREFIX}{logical}")

    def view_totals(self) -> dict[int, int]:
        """Every restaurant's view TOTAL item in the analytics table."""
        table, totals, start = self.table("analytics"), {}, None
        while True:
            kwargs = {"FilterExpression": Attr("sk").eq("TOTAL")
                      & Attr("pk").begins_with("view#restaurant:")}  # fmt: skip
            if start:
                kwargs["ExclusiveStartKey"] = start
            page = table.scan(**kwargs)
            for item in page["Items"]:
                totals[int(item["pk"].rsplit(":", 1)[1])] = int(item["n"])
            start = page.get("LastEvaluatedKey")
            if not start:
                return totals

    def view_counts_in_postgres(self) -> dict[int, int]:
        with psycopg.connect(self.pg.url("bellyfed").replace("+psycopg", "")) as conn:
            rows = conn.execute("SELECT id, view_count FROM restaurants WHERE view_count > 0")
            return dict(rows.fetchall())

    def drained(self) -> bool:
        """Nothing buffered or half-flushed in Redis, and no flush holding the lock."""
        client = self.redis_client()
        return not (client.exists(keys.BUFFER) or client.exists(keys.LOCK)
                    or list(client.scan_iter(f"{keys.BATCH}*")))  # fmt: skip

    # --- HTTP ----------------------------------------------------------------------------

    def browser(self) -> requests.Session:
        session = requests.Session()
        session.headers["User-Agent"] = BROWSER
        return session

    def log_in(self, session: requests.Session, username: str = "demo") -> None:
        page = session.get(f"{self.web.url}/auth/login", timeout=30)
        match = TOKEN.search(page.text)
        assert match, "no CSRF token on the log-in page"
        response = session.post(
            f"{self.web.url}/auth/login", allow_redirects=False, timeout=30,
            data={"csrf_token": match.group(1) or match.group(2), "identifier": username,
                  "password": DEMO_PASSWORD},
        )  # fmt: skip
        assert response.status_code == 302, response.text[:500]

    def view(self, session: requests.Session, restaurant: tuple[int, str]) -> int:
        """Open a restaurant page; the status (a 200 counts one view)."""
        response = session.get(f"{self.web.url}/restaurants/{restaurant[1]}", timeout=30)
        record_status(response.status_code)
        return response.status_code

    def browse(self, session: requests.Session, expected: dict[int, int] | None = None,
               extra: tuple[str, ...] = ()) -> None:  # fmt: skip
        """Every kind of page once, each a 200; restaurant pages' views go into ``expected``."""
        slugs = {f"/restaurants/{slug}": rid for rid, slug in self.restaurants}
        for path in [*self.paths, *extra]:
            response = session.get(f"{self.web.url}{path}", timeout=30)
            record_status(response.status_code)
            assert response.status_code == 200, (path, response.status_code, response.text[:300])
            if path in slugs and expected is not None:
                expected[slugs[path]] = expected.get(slugs[path], 0) + 1
                LEDGER["views sent"] += 1

    def view_all(self, restaurants: list[tuple[int, str]], expected: dict[int, int],
                 threads: int = 6) -> None:  # fmt: skip
        """One view of each restaurant, from a few browsers at once; ``expected`` counts them."""
        sessions = [self.browser() for _ in range(threads)]
        with ThreadPoolExecutor(threads) as pool:
            statuses = list(pool.map(lambda pair: self.view(sessions[pair[0] % threads], pair[1]),
                                     enumerate(restaurants)))  # fmt: skip
        assert set(statuses) == {200}, Counter(statuses)
        for restaurant_id, _ in restaurants:
            expected[restaurant_id] = expected.get(restaurant_id, 0) + 1
        LEDGER["views sent"] += len(restaurants)

    def wait_for_batches(self) -> None:
        """The web processes send their batched events to Redis once a second."""
        time.sleep(2.5)

    def flush_until(self, expected: dict[int, int], seconds: float = 60) -> None:
        """Queue flushes (as beat would, every 2 s) until DynamoDB holds ``expected`` exactly."""

        def done() -> bool:
            totals = self.view_totals()
            over = {r: n for r, n in totals.items() if n > expected.get(r, 0)}
            if over:
                LEDGER["views counted twice"] += sum(
                    n - expected.get(r, 0) for r, n in over.items()
                )
                raise CountedTwice(f"views counted twice: {sorted(over.items())[:10]}")
            if totals == expected and self.drained():
                return True
            self.send("worker.tasks.flush_events")
            return False

        try:
            wait_until(done, seconds, "every buffered view flushed to DynamoDB", every=2)
        except CountedTwice:
            raise
        except AssertionError:  # timed out: what never arrived is lost
            totals = self.view_totals()
            LEDGER["data lost"] += sum(max(n - totals.get(r, 0), 0) for r, n in expected.items())
            raise


class CountedTwice(AssertionError):
    """DynamoDB holds more views than were made."""


def record_status(status: int, *, outage_page: bool = False) -> None:
    """Count a response; ``outage_page``: a 503 here is the designed answer ("briefly
    unavailable"), counted apart from the 5xx the issue wants none of."""
    LEDGER["requests"] += 1
    if status == 503 and outage_page:
        LEDGER["503 outage pages (by design)"] += 1
    elif status >= 500:
        LEDGER["5xx seen"] += 1


def fault(name: str) -> None:
    """Count one injected fault."""
    LEDGER["faults injected"] += 1
    LEDGER[f"faults: {name}"] += 1


def _subprocess_env(pg: Postgres, rds: Redis, moto: Moto) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    return env | {
        "DATABASE_URL": pg.url("bellyfed"),
        "REDIS_URL": rds.url,
        "CELERY_BROKER_URL": rds.url,
        "AWS_ENDPOINT_URL_DYNAMODB": moto.endpoint,
        "AWS_ENDPOINT_URL_S3": moto.endpoint,
        "DYNAMODB_TABLE_PREFIX": PREFIX,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "ap-southeast-1",
        "BELLYFED_ENV": "development",
        "MAIL_BACKEND": "console",
        "PYTHONUNBUFFERED": "1",
    }


def _in_process_app(pg: Postgres, rds: Redis, moto: Moto) -> Flask:
    # create_app makes its Celery app the process's default; the rest of the suite keeps its own.
    default, current = celery._state.default_app, celery._state.get_current_app()
    app = create_app({
        "TESTING": True, "SQLALCHEMY_DATABASE_URI": pg.url("bellyfed"), "REDIS_URL": rds.url,
        "AWS_ENDPOINT_URL_DYNAMODB": moto.direct, "AWS_ENDPOINT_URL_S3": moto.direct,
        "DYNAMODB_TABLE_PREFIX": PREFIX, "MAIL_BACKEND": "memory", "MAIL_VIA_WORKER": False,
    })  # fmt: skip
    app.extensions["celery"].conf.broker_url = rds.url
    celery._state.default_app = default
    celery._state._set_current_app(current)
    return app


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    root = Path(tempfile.mkdtemp(prefix="bellyfed-faults-"))
    started: list = []
    pg = Postgres(root)
    try:
        pg.start()
        started.append(pg)
        rds, moto = Redis(root), Moto(root)
        for service in (rds, moto):
            service.start()
            started.append(service)
        started.append(moto.forwarder)
        with psycopg.connect(pg.url("postgres").replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute("CREATE DATABASE bellyfed")
        app = _in_process_app(pg, rds, moto)
        with app.app_context():
            flask_migrate.upgrade(directory=MIGRATIONS)
            load_demo(db.session.connection().connection.driver_connection,
                      DemoSize(restaurants=RESTAURANTS, users=100))  # fmt: skip
            db.session.commit()
            create_tables()
            restaurants = db.session.execute(text("SELECT id, slug FROM restaurants ORDER BY id"))
            restaurants = [tuple(row) for row in restaurants]
            boards = db.session.execute(text(
                "SELECT DISTINCT t.slug, c.slug FROM leaderboard_entries e "
                "JOIN dish_types t ON t.id = e.dish_type_id JOIN cities c ON c.id = e.city_id "
                "ORDER BY 1, 2 LIMIT 20"
            )).all()  # fmt: skip
            db.session.rollback()
            db.engine.dispose()
        env = _subprocess_env(pg, rds, moto)
        web, worker = Gunicorn(root, env), Worker(root, env)
        web.start()
        started.append(web)
        worker.start()
        started.append(worker)
        paths = [f"/restaurants/{slug}" for _, slug in restaurants[:60]]
        paths += [f"/dishes/{t}/{c}" for t, c in boards] + ["/", "/dishes", "/healthz"]
        paths += [f"/search?q={q}" for q in ("laksa", "nasi+lemak", "satay", "roti", "kopi")]
        yield Stack(root, pg, rds, moto, web, worker, app, restaurants, paths)
    finally:
        for service in reversed(started):
            if isinstance(service, Postgres):
                service.stop("immediate")
            else:
                service.kill(signal.SIGKILL)
        if os.environ.get("FAULT_KEEP_LOGS"):
            print(f"fault test logs kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def healthy(stack: Stack) -> Iterator[Stack]:
    """The stack with every service up before the test, and again (restarted if need be) after.

    Before: whatever an earlier test left (events still in a web process's batch, a buffer not
    yet flushed) reaches DynamoDB first, so each test counts only its own views.
    """
    _restore(stack)
    stack.wait_for_batches()

    def drained() -> bool:
        if stack.drained():
            return True
        stack.send("worker.tasks.flush_events")
        return False

    wait_until(drained, 60, "the event buffer drained", every=1)
    yield stack
    _restore(stack)


def _restore(stack: Stack) -> None:
    if not stack.redis.alive():
        stack.redis.start()
    if not stack.moto.forwarder.alive():
        stack.moto.start_endpoint()
    if subprocess_pg_down(stack):
        stack.pg.start()
    if not stack.worker.alive():
        stack.worker.start()
    assert stack.web.alive()


def subprocess_pg_down(stack: Stack) -> bool:
    from tests.faults.services import port_open

    return not port_open(stack.pg.port)


def pytest_terminal_summary(terminalreporter) -> None:
    if not LEDGER:
        return
    terminalreporter.section("fault tests: counts for the issue note")
    for name in ("faults injected", "requests", "5xx seen", "503 outage pages (by design)",
                 "views sent", "views lost (metric)", "data lost"):  # fmt: skip
        terminalreporter.write_line(f"{name}: {LEDGER.get(name, 0)}")
    for name, value in sorted(LEDGER.items()):
        if name.startswith(("faults: ", "load ", "dynamodb ", "worker ", "tasks ")):
            terminalreporter.write_line(f"{name}: {value}")
