"""A small committed demo database plus items in every DynamoDB table, backed up once (to a
directory and to S3) for the round-trip tests."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from flask import Flask

from bellyfed.demo.world import DemoSize
from bellyfed.dynamo import flags as flag_store
from bellyfed.dynamo import resource, table
from bellyfed.dynamo import sessions as session_store
from bellyfed.dynamo import tokens as token_store
from bellyfed.dynamo.counters import Increment, apply
from bellyfed.dynamo.tables import TABLES
from bellyfed.flags.evaluate import Flag
from tests.conftest import seeded_app

# Tiny, yet rankings, votes, reviews and leaderboards get rows (with 1 and 1 they stay empty); the
# fixture costs the same ~2.5 s either way, most of it the migrations.
TINY = DemoSize(restaurants=3, users=6)
# Every DynamoDB type, including the ones JSON cannot hold as they are.
ODD_ITEM = {
    "pk": "ODD#1",
    "sk": "v#1",
    "big": Decimal("12345678901234567890123456789.012345678"),
    "tiny": Decimal("-0.000000000000000000000000000001"),
    "numbers": {Decimal(1), Decimal("2.5"), Decimal(-3)},
    "words": {"zeta", "alpha", "émigré"},
    "blob": b"\x00\xffbinary\n",
    "blobs": {b"\x01", b"\x02\x03"},
    "nested": {"list": [1, "two", None, True, {"deep": b"\x10"}], "empty": {}},
    "flag": False,
    "nothing": None,
}


@dataclass
class Source:
    """The app being backed up, and its two backups."""

    app: Flask
    database_url: str
    local: Path
    s3: str


def invoke(app: Flask, *args: str, input: str | None = None):
    """Run ``flask backup ...`` in-process, the way an operator would."""
    return app.test_cli_runner().invoke(args=["backup", *args], input=input)


def fill_dynamodb() -> None:
    """A few items per table through the app's own functions, plus one of every type."""
    now = int(time.time())
    for n, user_id in enumerate((None, 1, 2)):
        session_store.save(
            session_store.StoredSession(
                id=f"session-{n}",
                data='{"_fresh": true}',
                user_id=user_id,
                created_at=now,
                last_seen=now,
                expires_at=now + 3600,
                user_agent="pytest",
            )
        )
    flag_store.put(
        Flag(
            name="new-search",
            enabled=True,
            rollout=25,
            users=frozenset({1, 2}),
            cities=frozenset({"penang"}),
        ),
        0,
        "operator",
        "created",
    )
    apply(
        [
            Increment("view#restaurant:1", "TOTAL", 7),
            Increment("view#restaurant:1", "H#2026-11-27T10", 7, uniques=3, expires_at=now + 60),
            Increment("metric#views", "TOTAL", 42),
        ],
        seq=1,
    )
    token_store.issue("api", 1, 3600, name="laptop")
    token_store.issue("reset", 2, 1800)
    table("cache").put_item(Item=ODD_ITEM)


def drop_tables_with_prefix(app: Flask, prefix: str) -> None:
    with app.app_context():
        client = resource().meta.client
        for logical in TABLES:
            name = f"{prefix}{logical}"
            if name in client.list_tables()["TableNames"]:
                client.delete_table(TableName=name)


@pytest.fixture(scope="package")
def source(aws_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Source]:
    from bellyfed.dynamo.tables import create_tables

    with seeded_app("bellyfed_backup", aws_endpoint, TINY) as (app, url):
        prefix = f"bk-{uuid.uuid4().hex[:8]}-"
        app.config["DYNAMODB_TABLE_PREFIX"] = prefix
        with app.app_context():
            create_tables()
            fill_dynamodb()
        local = tmp_path_factory.mktemp("backups")
        bucket = f"s3://bellyfed-test-backups-{uuid.uuid4().hex[:8]}/nightly"
        locations = []
        for to in (str(local), bucket):
            result = invoke(app, "create", "--to", to)
            assert result.exit_code == 0, result.output
            locations.append(
                result.output.strip().splitlines()[-1].removeprefix("Backup written to ")
            )
        try:
            yield Source(app, url, Path(locations[0]), locations[1])
        finally:
            drop_tables_with_prefix(app, prefix)
