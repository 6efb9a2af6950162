"""Test harness: a real PostgreSQL database made for the run, each test rolled back.

The database is created from the migrations (not ``create_all``) so the tests exercise the same
schema production gets, and dropped when the run ends. Redis is the real one, on its own db index.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import flask_migrate
import pytest
import redis
import sqlalchemy as sa
from flask import Flask
from flask_sqlalchemy.session import _app_ctx_id
from sqlalchemy.orm import scoped_session, sessionmaker

from bellyfed import PROJECT_ROOT, create_app
from bellyfed.extensions import db

SERVER_URL = os.environ.get(
    "TEST_DATABASE_SERVER_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
MIGRATIONS = str(PROJECT_ROOT / "migrations")


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


def make_test_app(database_url: str, **overrides: object) -> Flask:
    """An app on the given database and the test Redis db."""
    config = {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "REDIS_URL": TEST_REDIS_URL,
    }
    config.update(overrides)
    app = create_app(config)
    app.extensions["celery"].conf.broker_url = TEST_REDIS_URL
    return app


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    with temporary_database() as url:
        yield url


@pytest.fixture(scope="session")
def app(database_url: str) -> Iterator[Flask]:
    app = make_test_app(database_url)
    with app.app_context():
        flask_migrate.upgrade(directory=MIGRATIONS)
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def db_session(app: Flask) -> Iterator[sa.orm.Session]:
    """``db.session`` bound to one connection whose outer transaction is rolled back at the end.

    Code under test may commit: with ``create_savepoint`` its commits only release savepoints.
    """
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
def client(app: Flask, db_session):
    return app.test_client()


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(TEST_REDIS_URL)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()
