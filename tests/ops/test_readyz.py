"""/readyz: 200 when PostgreSQL, Redis and DynamoDB all answer, else 503 naming the one that
did not, and never slower than about two seconds, even against a server that never answers."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from sqlalchemy import event

from bellyfed.extensions import db
from tests.conftest import TEST_REDIS_URL, free_port, make_test_app
from tests.web import BrowserClient


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections and then never says a word."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield server.getsockname()[1]


def ready(app):
    started = time.monotonic()
    response = BrowserClient(app, app.response_class).get("/readyz")
    elapsed = time.monotonic() - started
    assert elapsed < 2.5, f"/readyz took {elapsed:.1f} s"
    assert response.headers["Cache-Control"] == "no-store"
    return response


def test_all_dependencies_up_is_200_with_each_latency(app):
    response = ready(app)
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"postgresql", "redis", "dynamodb"}
    for check in body["checks"].values():
        assert check["status"] == "ok"
        assert check["latency_ms"] >= 0


@pytest.mark.parametrize(
    ("down", "overrides"),
    [("postgresql", lambda port: {"SQLALCHEMY_DATABASE_URI":
                                  f"postgresql+psycopg://postgres@127.0.0.1:{port}/gone"}),
     ("redis", lambda port: {"REDIS_URL": f"redis://127.0.0.1:{port}/0"}),
     ("dynamodb", lambda port: {"AWS_ENDPOINT_URL_DYNAMODB": f"http://127.0.0.1:{port}"})],
)  # fmt: skip
def test_one_dependency_down_is_a_503_naming_it(app, database_url, aws_endpoint, down, overrides):
    broken = make_test_app(database_url, aws_endpoint, **overrides(free_port()))
    response = ready(broken)
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable"
    assert body["checks"][down]["status"] == "error"
    assert body["checks"][down]["error"]  # the kind of failure, e.g. OperationalError
    assert [name for name, c in body["checks"].items() if c["status"] != "ok"] == [down]


def test_a_missing_table_is_not_ready(app, database_url, aws_endpoint):
    broken = make_test_app(database_url, aws_endpoint, READYZ_DYNAMODB_TABLE="no-such-table")
    body = ready(broken).get_json()
    assert body["checks"]["dynamodb"] == {"status": "error", "error": "ResourceNotFoundException",
                                          "latency_ms": body["checks"]["dynamodb"]["latency_ms"]}  # fmt: skip


def test_servers_that_never_answer_cannot_hold_the_probe(app, aws_endpoint, silent_port):
    hung = make_test_app(
        f"postgresql+psycopg://postgres@127.0.0.1:{silent_port}/hangs", aws_endpoint,
        REDIS_URL=f"redis://127.0.0.1:{silent_port}/0",
        AWS_ENDPOINT_URL_DYNAMODB=f"http://127.0.0.1:{silent_port}",
        READYZ_TIMEOUT_SECONDS=1,
    )  # fmt: skip
    response = ready(hung)
    assert response.status_code == 503
    checks = response.get_json()["checks"]
    assert checks["postgresql"]["status"] == "timeout"  # libpq would wait connect_timeout (5 s)
    assert checks["redis"]["status"] in ("error", "timeout")  # socket_timeout is 0.5 s
    assert checks["dynamodb"]["status"] in ("error", "timeout")
    assert TEST_REDIS_URL  # the other apps still use the test Redis


def test_the_answer_is_reused_for_about_a_second(app, database_url, aws_endpoint):
    # A dependency that fails after a check is not seen until the cached answer expires.
    cached = make_test_app(database_url, aws_endpoint, READYZ_CACHE_SECONDS=0.5)
    first = ready(cached)
    assert first.status_code == 200
    cached.extensions["redis"] = redis.Redis.from_url(f"redis://127.0.0.1:{free_port()}/0")
    again = ready(cached)
    assert again.status_code == 200
    assert again.get_json() == first.get_json()  # the same latencies: no new check ran
    time.sleep(0.6)
    expired = ready(cached)
    assert expired.status_code == 503
    assert expired.get_json()["checks"]["redis"]["status"] == "error"


def test_a_burst_of_probes_runs_one_check(app, database_url, aws_endpoint):
    burst = make_test_app(database_url, aws_endpoint)
    with burst.app_context():
        engine = db.engine
        checkouts = []
        event.listen(engine, "checkout", lambda *_: checkouts.append(1))
        with ThreadPoolExecutor(max_workers=10) as pool:
            probes = list(pool.map(lambda _: ready(burst), range(20)))
    assert {p.status_code for p in probes} == {200}
    assert len({str(p.get_json()) for p in probes}) == 1
    assert len(checkouts) == 1  # one SELECT 1 for twenty probes


def test_zero_turns_the_cache_off(app, database_url, aws_endpoint):
    uncached = make_test_app(database_url, aws_endpoint, READYZ_CACHE_SECONDS=0)
    first = ready(uncached).get_json()
    uncached.extensions["redis"] = redis.Redis.from_url(f"redis://127.0.0.1:{free_port()}/0")
    assert ready(uncached).get_json()["checks"]["redis"]["status"] == "error"
    assert first["status"] == "ok"
