"""Data-move fixtures: DynamoDB tables under a prefix of their own, emptied for each test.

Moves read whole tables, so other tests' leftovers in the shared tables would leak into the
counts. PostgreSQL is the usual rolled-back ``db_session``; moves commit, which only releases
savepoints there, so tests commit their setup before a move (a move's rollback would drop it).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from bellyfed.dynamo import table
from bellyfed.dynamo.tables import create_tables
from tests.factories import CuisineFactory, UserFactory, UserPreferencesFactory

PREFIX = f"data-{uuid.uuid4().hex[:8]}-"


@pytest.fixture(scope="session")
def data_tables(app):
    with app.app_context():
        original = app.config["DYNAMODB_TABLE_PREFIX"]
        app.config["DYNAMODB_TABLE_PREFIX"] = PREFIX
        try:
            create_tables()
        finally:
            app.config["DYNAMODB_TABLE_PREFIX"] = original


def empty(logical: str) -> None:
    items = table(logical)
    start = None
    while True:
        page = items.scan(
            ProjectionExpression="pk, sk", **({"ExclusiveStartKey": start} if start else {})
        )
        with items.batch_writer() as batch:
            for item in page["Items"]:
                batch.delete_item(Key={"pk": item["pk"], "sk": item["sk"]})
        start = page.get("LastEvaluatedKey")
        if not start:
            return


@pytest.fixture
def stores(app, db_session, data_tables, monkeypatch):
    """Empty analytics and preferences tables of our own; the rolled-back PostgreSQL session."""
    monkeypatch.setitem(app.config, "DYNAMODB_TABLE_PREFIX", PREFIX)
    monkeypatch.setitem(app.config, "PREFERENCES_STORE", "dual")
    empty("analytics")
    empty("preferences")
    return db_session


@pytest.fixture
def diners(stores):
    """Five diners with preferences (some with favourite cuisines), committed."""
    laksa, nyonya, mamak = (
        CuisineFactory(name="Laksa"),
        CuisineFactory(name="Nyonya"),
        CuisineFactory(name="Mamak"),
    )
    shapes = [
        (1, 2, ["halal"], [laksa, mamak]),
        (None, None, [], []),
        (2, 4, ["vegetarian", "gluten-free"], [nyonya]),
        (1, 1, [], [laksa]),
        (3, 4, ["halal", "no-pork-no-lard"], [laksa, nyonya, mamak]),
    ]
    made = []
    for n, (low, high, needs, cuisines) in enumerate(shapes):
        prefs = UserPreferencesFactory(
            user=UserFactory(),
            price_min=low,
            price_max=high,
            dietary_needs=needs,
            updated_at=datetime(2026, 11, 1, 8, n, 30, 123456, tzinfo=UTC),
        )
        prefs.favourite_cuisines = cuisines
        made.append(prefs)
    stores.commit()
    return made
