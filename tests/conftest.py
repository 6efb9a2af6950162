"""Test harness: a real PostgreSQL database made for the run, each test rolled back.

The database is created from the migrations (not ``create_all``) so the tests exercise the same
schema production gets, and dropped when the run ends. Redis is the real one, on its own db index.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import flask_migrate
import pytest
import redis
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from flask_sqlalchemy.session import _app_ctx_id
from sqlalchemy.orm import scoped_session, sessionmaker

from bellyfed import PROJECT_ROOT, create_app
from bellyfed.extensions import db

SERVER_URL = os.environ.get(
    "TEST_DATABASE_SERVER_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
MIGRATIONS = str(PROJECT_ROOT / "migrations")
# DynamoDB tables of this test run, in the run's own moto server.
DYNAMODB_PREFIX = f"test-{uuid.uuid4().hex[:8]}-"

# moto's server stands in for AWS; boto3 still wants credentials to sign requests with.
for _name, _value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                      ("AWS_DEFAULT_REGION", "ap-southeast-1")):  # fmt: skip
    os.environ.setdefault(_name, _value)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listened on port {port} within {seconds} s")


@contextmanager
def temporary_database(prefix: str = "bellyfed_test") -> Iterator[str]:
    """Create an empty database, yield its URL, drop it afterwards (even if connections remain)."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(SERVER_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.make_url(SERVER_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def make_test_app(database_url: str, aws_endpoint: str | None = None, **overrides: object) -> Flask:
    """An app on the given database, the test Redis db and (optionally) moto's server."""
    config = {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "REDIS_URL": TEST_REDIS_URL,
        "AWS_ENDPOINT_URL_DYNAMODB": aws_endpoint,
        "AWS_ENDPOINT_URL_S3": aws_endpoint,
        "DYNAMODB_TABLE_PREFIX": DYNAMODB_PREFIX,
        # Off: most tests change rows without committing, which never bumps the search version.
        # tests/search/test_cache.py turns it on and commits its changes.
        "SEARCH_CACHE_SECONDS": 0,
        # Off for the same reason (tests/core/test_pagecache.py turns it on).
        "PAGE_CACHE_SECONDS": 0,
        "AGGREGATE_CACHE_SECONDS": 0,  # tests/core/test_memo.py turns it on
        # Events reach Redis with each request (tests/analytics/test_batch.py batches them).
        "ANALYTICS_BATCH_SECONDS": 0,
        # Messages stay in app.extensions["outbox"] (bellyfed/core/mail.py), sent in the request.
        "MAIL_BACKEND": "memory",
        "MAIL_VIA_WORKER": False,
        # Off like the search cache (tests/api/test_cache.py turns it on); limits out of the way
        # (tests/api/test_limits.py sets its own).
        "API_CACHE_SECONDS": 0,
        "API_RATE_LIMIT_TOKEN": "100000 per minute",
        "API_RATE_LIMIT_ANONYMOUS": "100000 per minute",
        "API_RATE_LIMIT_ADDRESS": "100000 per minute",
    }
    config.update(overrides)
    app = create_app(config)
    app.extensions["celery"].conf.broker_url = TEST_REDIS_URL
    return app


@contextmanager
def seeded_app(prefix: str, aws_endpoint: str, size: object) -> Iterator[tuple[Flask, str]]:
    """An app on a database of its own, migrated and filled with committed demo data."""
    from bellyfed.demo.load import load_demo

    with temporary_database(prefix) as url:
        app = make_test_app(url, aws_endpoint)
        with app.app_context():
            flask_migrate.upgrade(directory=MIGRATIONS)
            load_demo(db.session.connection().connection.driver_connection, size)
            db.session.commit()
        try:
            yield app, url
        finally:
            with app.app_context():
                db.engine.dispose()


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    with temporary_database() as url:
        yield url


@pytest.fixture(scope="session")
def aws_endpoint() -> Iterator[str]:
    """moto's server over HTTP, the way production talks to AWS (one per test run)."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def app(database_url: str, aws_endpoint: str) -> Iterator[Flask]:
    from bellyfed.dynamo.tables import create_tables

    app = make_test_app(database_url, aws_endpoint)
    with app.app_context():
        flask_migrate.upgrade(directory=MIGRATIONS)
        create_tables()
    yield app
    with app.app_context():
        db.engine.dispose()


@contextmanager
def rolled_back_session(app: Flask) -> Iterator[sa.orm.Session]:
    """In an app context, ``db.session`` bound to one connection whose outer transaction is
    rolled back at the end. Code under test may commit: with ``create_savepoint`` its commits
    only release savepoints."""
    with app.app_context():
        connection = db.engine.connect()
        outer = connection.begin()
        original = db.session
        db.session = scoped_session(
            sessionmaker(bind=connection, join_transaction_mode="create_savepoint"),
            scopefunc=_app_ctx_id,
        )
        try:
            yield db.session
        finally:
            db.session.remove()
            db.session = original
            outer.rollback()
            connection.close()


@pytest.fixture
def db_session(app: Flask) -> Iterator[sa.orm.Session]:
    """One test's database work, rolled back after it (``rolled_back_session``)."""
    with rolled_back_session(app) as session:
        yield session


@pytest.fixture
def client(app: Flask, db_session) -> FlaskClient:
    """A browser-like client: each request in its own app context (see tests/web.py)."""
    from tests.web import BrowserClient

    return BrowserClient(app, app.response_class, use_cookies=True)


@pytest.fixture
def browser(app: Flask, db_session, redis_client) -> FlaskClient:
    """A client that behaves like a browser (see tests/web.py), on a clean Redis."""
    from tests.web import BrowserClient

    return BrowserClient(app, app.response_class, use_cookies=True)


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(TEST_REDIS_URL)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()
