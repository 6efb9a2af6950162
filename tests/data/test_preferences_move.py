"""Preferences, PostgreSQL ⇄ DynamoDB: move, validate, tamper, dry run, resume, throttling,
never over a newer item, expected and unreadable items in validation."""

from datetime import UTC, datetime

import pytest
from botocore.exceptions import ClientError
from sqlalchemy import delete, select, update

from bellyfed.accounts.models import User, UserPreferences, user_favourite_cuisines
from bellyfed.data import checkpoints, dynamo_io
from bellyfed.data import preferences_store as store
from bellyfed.data.framework import run_move, validate
from bellyfed.data.preferences import MoveRefused, PreferencesToDynamo
from bellyfed.data.preferences_back import PreferencesToPostgres
from bellyfed.dynamo import table
from bellyfed.extensions import db
from bellyfed.restaurants.models import Cuisine
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


def throttled():
    error = {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}
    return ClientError({"Error": error}, "PutItem")


def test_an_interrupted_run_resumes_without_rewriting(diners):
    puts = []
    real = table("preferences").put_item

    def counting_write(**kwargs):
        puts.append(kwargs["Item"]["user_id"])
        return real(**kwargs)

    def stop(batch):
        if batch == 1:
            raise Interrupted

    with pytest.raises(Interrupted):
        run_move(PreferencesToDynamo(put=counting_write), batch_size=2, after_batch=stop)
    assert len(items()) == 2
    assert checkpoints.load("preferences:postgresql->dynamodb").position == diners[1].user_id

    report = run_move(PreferencesToDynamo(put=counting_write), batch_size=2, resume=True)

    assert report.resumed_after_batch == 1
    assert report.written == 3
    assert sorted(puts) == sorted(p.user_id for p in diners)  # each diner written once
    assert validate(PreferencesToDynamo()).ok


def test_throttled_puts_are_resent_with_backoff(diners, monkeypatch):
    """moto never throttles, so a double at the boto call refuses the first two puts the way
    DynamoDB does (after botocore's own retries) when a partition is throttled."""
    real = table("preferences").put_item
    calls, waits = [], []

    def throttled_put(**kwargs):
        calls.append(kwargs["Item"]["user_id"])
        if len(calls) <= 2:
            raise throttled()
        return real(**kwargs)

    monkeypatch.setattr(dynamo_io.random, "uniform", lambda low, high: high)
    report = run_move(PreferencesToDynamo(put=throttled_put, sleep=waits.append), batch_size=10)

    assert calls[:3] == [diners[0].user_id] * 3
    assert waits == [dynamo_io.BASE_DELAY, dynamo_io.BASE_DELAY * 2]  # exponential
    assert set(items()) == {p.user_id for p in diners}
    assert "DynamoDB throttled writes 2 time(s); all were resent." in report.notes
    assert validate(PreferencesToDynamo()).ok


def test_gives_up_clearly_when_always_throttled(diners):
    def never(**kwargs):
        raise throttled()

    with pytest.raises(dynamo_io.ThrottledError, match="throttling writes after 8 attempts"):
        run_move(PreferencesToDynamo(put=never, sleep=lambda s: None))
    assert checkpoints.load("preferences:postgresql->dynamodb").batches == 0


def test_a_save_during_the_batch_is_recopied(diners):
    """A diner saves (PostgreSQL commits) while our older copy of their row is in flight."""
    real = table("preferences").put_item
    racer = diners[0].user_id

    def write_then_save(**kwargs):
        response = real(**kwargs)
        if kwargs["Item"]["user_id"] == racer:  # its save's own post-commit write failed
            db.session.execute(
                update(UserPreferences)
                .where(UserPreferences.user_id == racer)
                .values(price_max=4, updated_at=datetime(2026, 11, 2, tzinfo=UTC))
            )
        return response

    run_move(PreferencesToDynamo(put=write_then_save))

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


def test_refuses_in_postgresql_mode_unless_forced(diners, app, monkeypatch):
    monkeypatch.setitem(app.config, "PREFERENCES_STORE", "postgresql")
    with pytest.raises(MoveRefused, match=r"would not reach DynamoDB .*--force"):
        run_move(PreferencesToDynamo())
    assert items() == {}

    forced = PreferencesToDynamo()
    forced.force = True
    report = run_move(forced)

    assert report.written == 5
    assert "(--force)" in report.warnings[0]
    assert validate(PreferencesToDynamo()).ok


def test_an_older_row_never_replaces_a_newer_item(diners):
    """DynamoDB was saved to while PostgreSQL was not (dynamodb mode, or a process still in it):
    the move keeps the newer item, says so, and validation shows the difference."""
    newer = diners[1].user_id
    saved = store.StoredPreferences(newer, 4, 4, ("vegan",), (), datetime(2026, 12, 1, tzinfo=UTC))
    store.put(saved)
    same = diners[2]  # an item as old as its row: replaced
    store.put(store.StoredPreferences(same.user_id, 1, 1, (), (), same.updated_at))

    report = run_move(PreferencesToDynamo(), batch_size=2)

    assert store.get(newer) == saved
    assert store.get(same.user_id).price_max == 4  # PostgreSQL's row
    assert [(r.key, r.reason) for r in report.rejected] == [
        (f"user:{newer}", "skipped as newer: DynamoDB's item was saved after this row; kept")
    ]
    assert report.written == 4
    assert report.notes[0].startswith("1 item(s) skipped as newer (listed as rejected)")
    result = validate(PreferencesToDynamo())
    assert [d[0] for d in result.different] == [f"user:{newer}"]
    assert not result.ok


def test_a_row_deleted_meanwhile_does_not_delete_a_newer_item(diners):
    """A diner's row goes while the batch is in flight; DynamoDB meanwhile holds a newer save."""
    real = table("preferences").put_item
    leaver = diners[0].user_id
    newer = store.StoredPreferences(leaver, 2, 2, (), (), datetime(2026, 12, 1, tzinfo=UTC))
    gone = diners[3].user_id

    def write_then_delete(**kwargs):
        response = real(**kwargs)
        if kwargs["Item"]["user_id"] == gone:
            for user_id in (leaver, gone):
                db.session.execute(
                    delete(user_favourite_cuisines).where(
                        user_favourite_cuisines.c.user_id == user_id
                    )
                )
                db.session.execute(
                    delete(UserPreferences).where(UserPreferences.user_id == user_id)
                )
            store.put(newer)
        return response

    report = run_move(PreferencesToDynamo(put=write_then_delete))

    assert store.get(leaver) == newer
    assert [r.key for r in report.rejected] == [f"user:{leaver}"]  # skipped as newer
    assert gone not in items()


def test_the_way_back_validates_clean_with_deleted_users_and_cuisines(diners):
    """Items of deleted users and favourite cuisines that no longer exist are expected
    differences, listed every run but never a failure."""
    run_move(PreferencesToDynamo())
    leaver, picky = diners[3].user_id, diners[4].user_id
    dropped = diners[0].favourite_cuisines[1]  # Mamak: diners 0 and 4 named it
    db.session.execute(delete(user_favourite_cuisines).where(
        user_favourite_cuisines.c.cuisine_id == dropped.id))  # fmt: skip
    db.session.execute(delete(Cuisine).where(Cuisine.id == dropped.id))
    db.session.execute(delete(UserPreferences).where(UserPreferences.user_id == leaver))
    db.session.execute(delete(User).where(User.id == leaver))
    db.session.commit()

    report = run_move(PreferencesToPostgres())

    assert [(r.key, r.reason) for r in report.rejected] == [
        (f"user:{leaver}", "the user no longer exists")
    ]
    assert (
        "2 diner(s) named favourite cuisines that no longer exist; those were left out "
        "(`flask data validate` lists them)." in report.notes
    )
    assert dropped.id not in favourites(picky)
    result = validate(PreferencesToPostgres())
    assert result.ok
    assert (result.source_count, result.target_count, result.matching) == (5, 4, 4)
    gone = f"favourite cuisine(s) {dropped.id} no longer exist; left out"
    assert sorted(result.expected) == sorted(
        [
            (f"user:{diners[0].user_id}", gone),
            (f"user:{leaver}", "the user no longer exists"),
            (f"user:{picky}", gone),
        ]
    )


def test_unreadable_items_fail_validation_on_either_side(diners):
    run_move(PreferencesToDynamo())
    table("preferences").put_item(Item={**store.key(888888), "user_id": 888888})  # no updated_at

    back = validate(PreferencesToPostgres())  # a source item that never moved
    there = validate(PreferencesToDynamo())  # a target item that cannot be checked

    reason = "malformed preferences item (KeyError('updated_at'))"
    assert back.unreadable == [("dynamodb", "USER#888888", reason)]
    assert not back.ok
    assert there.unreadable == [("dynamodb", "USER#888888", reason)]
    assert not there.ok
    assert there.matching == 5


def test_a_diner_without_preferences_is_not_moved(diners):
    UserFactory()  # never saved any
    db.session.commit()
    run_move(PreferencesToDynamo())
    assert len(items()) == 5
