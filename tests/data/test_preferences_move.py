"""Preferences, PostgreSQL ⇄ DynamoDB: move, validate, tamper, dry run, resume, throttling."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, select, update

from bellyfed.accounts.models import UserPreferences, user_favourite_cuisines
from bellyfed.data import checkpoints, dynamo_io
from bellyfed.data import preferences_store as store
from bellyfed.data.framework import run_move, validate
from bellyfed.data.preferences import MoveRefused, PreferencesToDynamo, PreferencesToPostgres
from bellyfed.dynamo import resource, table
from bellyfed.extensions import db
from tests.factories import UserFactory


class Interrupted(Exception):
    pass


def items():
    return {int(i["user_id"]): i for i in table("preferences").scan(ConsistentRead=True)["Items"]}


def favourites(user_id):
    query = select(user_favourite_cuisines.c.cuisine_id).where(
        user_favourite_cuisines.c.user_id == user_id
    )
    return sorted(db.session.scalars(query))


def test_moves_every_diner_to_dynamodb_and_validates(diners):
    report = run_move(PreferencesToDynamo(), batch_size=2)

    assert report.written == 5
    assert report.batches == 3
    stored = items()
    assert set(stored) == {p.user_id for p in diners}
    first = diners[0]
    assert stored[first.user_id] == {
        "pk": f"USER#{first.user_id}",
        "sk": "PREFS",
        "user_id": first.user_id,
        "price_min": 1,
        "price_max": 2,
        "dietary_needs": ["halal"],
        "cuisine_ids": sorted(c.id for c in first.favourite_cuisines),
        "updated_at": "2026-11-01T08:00:30.123456+00:00",
    }
    assert "price_min" not in stored[diners[1].user_id]  # unset, not NULL
    result = validate(PreferencesToDynamo())
    assert result.ok
    assert (result.source_count, result.target_count, result.matching) == (5, 5, 5)


def test_a_tampered_item_is_listed(diners):
    run_move(PreferencesToDynamo())
    victim = diners[2].user_id
    table("preferences").update_item(
        Key=store.key(victim),
        UpdateExpression="SET price_max = :p",
        ExpressionAttributeValues={":p": 3},
    )
    table("preferences").delete_item(Key=store.key(diners[3].user_id))

    result = validate(PreferencesToDynamo())

    assert not result.ok
    assert [d[0] for d in result.different] == [f"user:{victim}"]
    assert result.missing == [f"user:{diners[3].user_id}"]
    assert result.source_count == 5
    assert result.target_count == 4


def test_a_dry_run_writes_nothing(diners):
    report = run_move(PreferencesToDynamo(), batch_size=2, dry_run=True)

    assert report.written == 5
    assert items() == {}
    assert checkpoints.load("preferences:postgresql->dynamodb") is None


def test_an_interrupted_run_resumes_without_rewriting(diners):
    puts = []
    real = resource().batch_write_item

    def counting_write(**kwargs):
        puts.extend(
            r["PutRequest"]["Item"]["user_id"] for r in next(iter(kwargs["RequestItems"].values()))
        )
        return real(**kwargs)

    def stop(batch):
        if batch == 1:
            raise Interrupted

    with pytest.raises(Interrupted):
        run_move(PreferencesToDynamo(write=counting_write), batch_size=2, after_batch=stop)
    assert len(items()) == 2
    assert checkpoints.load("preferences:postgresql->dynamodb").position == diners[1].user_id

    report = run_move(PreferencesToDynamo(write=counting_write), batch_size=2, resume=True)

    assert report.resumed_after_batch == 1
    assert report.written == 3
    assert sorted(puts) == sorted(p.user_id for p in diners)  # each diner written once
    assert validate(PreferencesToDynamo()).ok


def test_unprocessed_items_are_resent_with_backoff(diners, monkeypatch):
    """moto never throttles, so a double at the boto call hands some items back the first
    times, as DynamoDB does when a partition is throttled."""
    real = resource().batch_write_item
    calls, waits = [], []

    def throttled_write(RequestItems):  # noqa: N803 - boto3's keyword
        ((name, requests),) = RequestItems.items()
        calls.append(len(requests))
        if len(calls) <= 2:  # twice: write the first request only, hand the rest back
            real(RequestItems={name: requests[:1]})
            return {"UnprocessedItems": {name: requests[1:]}}
        return real(RequestItems=RequestItems)

    monkeypatch.setattr(dynamo_io.random, "uniform", lambda low, high: high)
    report = run_move(PreferencesToDynamo(write=throttled_write, sleep=waits.append), batch_size=10)

    assert calls == [5, 4, 3]
    assert waits == [dynamo_io.BASE_DELAY, dynamo_io.BASE_DELAY * 2]  # exponential
    assert set(items()) == {p.user_id for p in diners}
    assert "handed items back 2 time(s)" in " ".join(report.notes)
    assert validate(PreferencesToDynamo()).ok


def test_gives_up_clearly_when_always_throttled(diners):
    def never(RequestItems):  # noqa: N803
        return {"UnprocessedItems": RequestItems}

    with pytest.raises(dynamo_io.UnprocessedItemsError, match="unprocessed after 8 attempts"):
        run_move(PreferencesToDynamo(write=never, sleep=lambda s: None))
    assert checkpoints.load("preferences:postgresql->dynamodb").batches == 0


def test_a_save_during_the_batch_is_recopied(diners):
    """A diner saves (PostgreSQL commits) while our older copy of their row is in flight."""
    real = resource().batch_write_item
    racer = diners[0].user_id

    def write_then_save(RequestItems):  # noqa: N803
        response = real(RequestItems=RequestItems)
        db.session.execute(
            update(UserPreferences)
            .where(UserPreferences.user_id == racer)
            .values(price_max=4, updated_at=datetime(2026, 11, 2, tzinfo=UTC))
        )
        return response

    run_move(PreferencesToDynamo(write=write_then_save))

    assert items()[racer]["price_max"] == 4
    assert validate(PreferencesToDynamo()).ok


def test_and_back_to_postgresql(diners):
    run_move(PreferencesToDynamo())
    kept = {
        p.user_id: (p.price_min, p.price_max, list(p.dietary_needs), favourites(p.user_id))
        for p in diners
    }
    db.session.execute(delete(user_favourite_cuisines))
    db.session.execute(delete(UserPreferences))
    db.session.commit()

    report = run_move(PreferencesToPostgres(), batch_size=2)

    assert report.written == 5
    db.session.expire_all()
    back = {
        p.user_id: (p.price_min, p.price_max, list(p.dietary_needs), favourites(p.user_id))
        for p in db.session.scalars(select(UserPreferences))
    }
    assert back == kept
    assert validate(PreferencesToPostgres()).ok


def test_the_way_back_keeps_newer_rows_and_rejects_unknown_users(diners):
    run_move(PreferencesToDynamo())
    newer = diners[4].user_id
    db.session.execute(
        update(UserPreferences)
        .where(UserPreferences.user_id == newer)
        .values(price_min=4, updated_at=datetime(2026, 11, 20, tzinfo=UTC))
    )
    table("preferences").put_item(
        Item={
            **store.key(999999),
            "user_id": 999999,
            "dietary_needs": [],
            "cuisine_ids": [],
            "updated_at": "2026-11-01T00:00:00+00:00",
        }
    )
    table("preferences").put_item(Item={**store.key(888888), "user_id": 888888})  # no updated_at
    db.session.commit()

    report = run_move(PreferencesToPostgres())

    assert db.session.get(UserPreferences, newer, populate_existing=True).price_min == 4
    assert "1 PostgreSQL row(s) were newer and kept." in report.notes
    assert sorted((r.key, r.reason) for r in report.rejected) == [
        ("USER#888888", "malformed preferences item (KeyError('updated_at'))"),
        ("user:999999", "the user no longer exists"),
    ]
    assert report.written == 5


def test_refuses_to_copy_postgresql_over_an_authoritative_dynamodb(diners, app, monkeypatch):
    monkeypatch.setitem(app.config, "PREFERENCES_STORE", "dynamodb")
    with pytest.raises(MoveRefused, match="Switch to dual first"):
        run_move(PreferencesToDynamo())
    assert items() == {}


def test_a_diner_without_preferences_is_not_moved(diners):
    UserFactory()  # never saved any
    db.session.commit()
    run_move(PreferencesToDynamo())
    assert len(items()) == 5
