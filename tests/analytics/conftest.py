"""Analytics fixtures: an empty analytics table and buffer for each test."""

from __future__ import annotations

import pytest

from bellyfed.dynamo import table


@pytest.fixture
def analytics(app, db_session, redis_client):
    """The analytics table emptied (moto keeps items across tests), the Redis buffer too."""
    items = table("analytics")
    scan = items.scan(ProjectionExpression="pk, sk")
    with items.batch_writer() as batch:
        for item in scan["Items"]:
            batch.delete_item(Key={"pk": item["pk"], "sk": item["sk"]})
    return redis_client
