"""View history, DynamoDB day buckets → PostgreSQL: move, validate, tamper, dry run, resume."""

from datetime import date

import pytest
from sqlalchemy import delete, func, select, update

from bellyfed.data import checkpoints
from bellyfed.data.framework import run_move, validate
from bellyfed.data.models import ViewHistory
from bellyfed.data.view_history import ViewHistoryToPostgres
from bellyfed.dynamo import counters, table
from bellyfed.extensions import db

BEFORE = date(2026, 11, 26)  # the first day still being rolled up
SETTLED = {
    ("restaurant", 1, "2026-11-01"): 12,
    ("restaurant", 1, "2026-11-02"): 7,
    ("restaurant", 2, "2026-11-01"): 3,
    ("restaurant", 2, "2026-11-25"): 40,
    ("dish_type", 7, "2026-10-31"): 5,
    ("dish_type", 7, "2026-11-01"): 0,
    ("restaurant", 3, "2026-09-30"): 1,
}


class Interrupted(Exception):
    pass


@pytest.fixture
def buckets(stores):
    for (kind, entity_id, day), views in SETTLED.items():
        counters.set_count(f"view#{kind}:{entity_id}", f"D#{day}", views)
    counters.set_count("view#restaurant:1", "D#2026-11-26", 9)  # not settled: stays behind
    counters.set_count("view#restaurant:1", "H#2026-11-01T10", 4)  # hour buckets never move
    counters.set_count("click#restaurant:1:phone", "D#2026-11-01", 2)  # not a view
    counters.set_count("view#search-page", "D#2026-11-01", 3)  # no numeric id: rejected
    return SETTLED


def rows():
    query = select(
        ViewHistory.entity_type, ViewHistory.entity_id, ViewHistory.day, ViewHistory.views
    )
    return {(t, i, d.isoformat()): v for t, i, d, v in db.session.execute(query)}


def test_moves_the_settled_day_buckets_and_validates(buckets):
    report = run_move(ViewHistoryToPostgres(BEFORE), batch_size=3)

    assert rows() == SETTLED
    assert report.written == len(SETTLED)
    assert report.batches >= 4  # 11 items examined, 3 at a time
    assert [r.key for r in report.rejected] == ["view#search-page D#2026-11-01"]
    assert checkpoints.load("view-history:dynamodb->postgresql").finished_at is not None
    result = validate(ViewHistoryToPostgres(BEFORE))
    assert not result.ok  # the unreadable bucket never moved: visible, not skipped
    assert result.unreadable == [
        ("dynamodb", "view#search-page D#2026-11-01", "not view#<entity type>:<numeric id>")
    ]
    assert (result.source_count, result.target_count, result.matching) == (8, 7, 7)

    table("analytics").delete_item(Key={"pk": "view#search-page", "sk": "D#2026-11-01"})
    result = validate(ViewHistoryToPostgres(BEFORE))
    assert result.ok
    assert (result.source_count, result.target_count, result.matching) == (7, 7, 7)


def test_a_rerun_upserts_instead_of_duplicating(buckets):
    run_move(ViewHistoryToPostgres(BEFORE), batch_size=4)
    counters.set_count("view#restaurant:1", "D#2026-11-01", 13)  # a late correction

    run_move(ViewHistoryToPostgres(BEFORE), batch_size=4)

    assert rows() == {**SETTLED, ("restaurant", 1, "2026-11-01"): 13}


def test_tampering_is_detected_and_listed(buckets):
    run_move(ViewHistoryToPostgres(BEFORE))
    db.session.execute(
        update(ViewHistory)
        .where(ViewHistory.entity_id == 2, ViewHistory.day == date(2026, 11, 25))
        .values(views=41)
    )
    db.session.execute(
        delete(ViewHistory).where(
            ViewHistory.entity_type == "dish_type", ViewHistory.day == date(2026, 10, 31)
        )
    )
    db.session.add(
        ViewHistory(entity_type="restaurant", entity_id=99, day=date(2026, 1, 1), views=1)
    )
    db.session.commit()

    result = validate(ViewHistoryToPostgres(BEFORE))

    assert not result.ok
    assert [d[0] for d in result.different] == ["restaurant:2@2026-11-25"]
    assert result.missing == ["dish_type:7@2026-10-31"]
    assert result.extra == ["restaurant:99@2026-01-01"]
    assert (result.different_count, result.missing_count, result.extra_count) == (1, 1, 1)


def test_a_dry_run_writes_nothing(buckets):
    report = run_move(ViewHistoryToPostgres(BEFORE), batch_size=2, dry_run=True)

    assert report.written == len(SETTLED)  # would write
    assert rows() == {}
    assert checkpoints.load("view-history:dynamodb->postgresql") is None


def test_an_interrupted_run_resumes_from_its_checkpoint(buckets):
    def stop_after_first(batch: int) -> None:
        if batch == 1:
            raise Interrupted

    with pytest.raises(Interrupted):
        run_move(ViewHistoryToPostgres(BEFORE), batch_size=3, after_batch=stop_after_first)
    checkpoint = checkpoints.load("view-history:dynamodb->postgresql")
    assert checkpoint.batches == 1
    assert checkpoint.finished_at is None
    first_run = len(rows())
    assert 0 < first_run == checkpoint.records < len(SETTLED)

    report = run_move(ViewHistoryToPostgres(BEFORE), batch_size=3, resume=True)

    assert report.resumed_after_batch == 1
    assert report.written == len(SETTLED) - first_run  # nothing written twice
    assert report.total_written == len(SETTLED)
    assert rows() == SETTLED
    assert db.session.scalar(select(func.count()).select_from(ViewHistory)) == len(SETTLED)
    again = run_move(ViewHistoryToPostgres(BEFORE), resume=True)
    assert again.nothing_to_do


def test_the_default_cutoff_leaves_today_and_yesterday(stores):
    mover = ViewHistoryToPostgres()
    assert (date.today() - mover.before).days in (0, 1, 2)  # yesterday in UTC
