"""Exactly once: N views through the app become N in DynamoDB and on the page, whatever breaks."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from botocore.exceptions import EndpointConnectionError

from bellyfed.analytics import keys
from bellyfed.analytics.flush import DEAD, FINISH, LockLost, flush, leftover_batches
from bellyfed.analytics.rollups import rollup_day
from bellyfed.dynamo import counters
from bellyfed.restaurants.models import Restaurant
from tests.factories import RestaurantFactory
from tests.web import text

AGENTS = [f"Mozilla/5.0 visitor-{n}" for n in range(4)]


def view(client, restaurant, times: int) -> None:
    for n in range(times):
        assert (
            client.get(
                f"/restaurants/{restaurant.slug}", headers={"User-Agent": AGENTS[n % 4]}
            ).status_code
            == 200
        )


def total(restaurant) -> int:
    return counters.count(f"view#restaurant:{restaurant.id}")


def hour_buckets(restaurant) -> list[dict]:
    return counters.buckets(f"view#restaurant:{restaurant.id}", "H#", "H#~")


def test_n_views_become_n_everywhere(client, analytics, db_session):
    restaurant, other = RestaurantFactory(), RestaurantFactory()
    view(client, restaurant, 7)
    view(client, other, 2)
    report = flush(analytics)
    assert report.events == 9
    assert total(restaurant) == 7
    [bucket] = hour_buckets(restaurant)
    assert (int(bucket["n"]), int(bucket["u"])) == (7, 4)  # four distinct visitors
    db_session.expire_all()
    assert db_session.get(Restaurant, restaurant.id).view_count == 7
    assert "7 views" in text(client.get(f"/restaurants/{restaurant.slug}"))
    # Each item written once per flush: TOTAL + hour for 2 restaurants, minute + hour of the metric.
    assert report.writes == 2 * 2 + 2
    assert analytics.exists(keys.BUFFER) == 1  # the verification page view above, buffered anew


def test_running_the_flush_twice_counts_nothing_twice(client, analytics):
    restaurant = RestaurantFactory()
    view(client, restaurant, 3)
    flush(analytics)
    second = flush(analytics)
    assert second.events == 0
    assert total(restaurant) == 3


@pytest.mark.parametrize("fail_at", [0, 1, 2, 3])
def test_a_flush_dying_mid_batch_is_redriven_exactly(client, analytics, monkeypatch, fail_at):
    restaurant = RestaurantFactory()
    view(client, restaurant, 5)
    real, calls = counters._update_item, []

    def dying(increment, seq):
        calls.append(increment)
        if len(calls) > fail_at:
            raise EndpointConnectionError(endpoint_url="http://dynamodb")
        return real(increment, seq)

    monkeypatch.setattr(counters, "_update_item", dying)
    with pytest.raises(EndpointConnectionError):
        flush(analytics)
    assert leftover_batches(analytics), "the batch must stay in Redis until its writes succeed"
    monkeypatch.setattr(counters, "_update_item", real)
    view(client, restaurant, 2)  # new views arrive while DynamoDB is down
    report = flush(analytics)
    assert len(report.batches) == 2  # the leftover first, then the new buffer
    assert report.skipped == min(fail_at, 4)  # items the dead flush had already written
    assert total(restaurant) == 7
    assert int(hour_buckets(restaurant)[0]["n"]) == 7


def test_dying_after_the_snapshot_before_any_write(client, analytics):
    restaurant = RestaurantFactory()
    view(client, restaurant, 4)
    seq = analytics.incr(keys.SEQ)
    analytics.rename(keys.BUFFER, f"{keys.BATCH}{seq}")  # ...and then the worker died
    flush(analytics)
    assert total(restaurant) == 4


def test_dying_after_all_writes_before_deleting_the_batch(client, analytics, monkeypatch):
    restaurant = RestaurantFactory()
    view(client, restaurant, 6)

    real_eval = analytics.eval

    def dies_before_finishing(script, *args):
        if script == FINISH:
            raise ConnectionError("worker lost")
        return real_eval(script, *args)

    monkeypatch.setattr(analytics, "eval", dies_before_finishing)
    with pytest.raises(ConnectionError):
        flush(analytics)
    monkeypatch.undo()
    analytics.delete(keys.LOCK)  # a killed worker leaves its lock to expire; don't wait for it
    report = flush(analytics)
    assert report.skipped == 4
    assert total(restaurant) == 6


def test_a_second_flusher_stays_out_while_one_runs(analytics):
    analytics.set(keys.LOCK, "someone-else", ex=60)
    assert flush(analytics).locked_out


def test_dynamodb_unreachable_keeps_the_counts_in_redis_until_it_is_back(
    client, analytics, app, monkeypatch
):
    restaurant = RestaurantFactory()
    view(client, restaurant, 3)
    monkeypatch.setitem(app.config, "AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:1")
    app.extensions.pop("dynamodb", None)
    with pytest.raises(Exception):  # noqa: B017, PT011 - botocore's connection error, whatever its class
        flush(analytics)
    assert client.get(f"/restaurants/{restaurant.slug}").status_code == 200
    monkeypatch.undo()
    app.extensions.pop("dynamodb", None)
    flush(analytics)
    assert total(restaurant) == 4  # the three, and the view made while DynamoDB was down


def test_daily_rollup_sums_the_hours(client, analytics):
    restaurant = RestaurantFactory()
    view(client, restaurant, 5)
    flush(analytics)
    day = date.fromisoformat(hour_buckets(restaurant)[0]["sk"][2:12])
    assert rollup_day(analytics, day) >= 1
    assert counters.count(f"view#restaurant:{restaurant.id}", f"D#{day}") == 5
    rollup_day(analytics, day)  # idempotent
    assert counters.count(f"view#restaurant:{restaurant.id}", f"D#{day}") == 5


def test_a_poisoned_batch_is_set_aside_and_the_rest_flows(client, analytics):
    restaurant = RestaurantFactory()
    view(client, restaurant, 2)
    analytics.hset(keys.BUFFER, "no-minute-here", 3)
    analytics.hset(
        keys.BUFFER, keys.field("search", "x" * 2100, keys.minute_of(datetime.now(UTC))), 1
    )
    report = flush(analytics)
    assert total(restaurant) == 2
    assert leftover_batches(analytics) == []
    dead = {k.decode(): int(v) for k, v in analytics.hgetall(DEAD).items()}
    assert dead["no-minute-here"] == 3
    assert any(k.startswith("search#xxx") for k in dead)
    view(client, restaurant, 1)
    flush(analytics)
    assert total(restaurant) == 3
    assert report.events == 6


def test_redis_forgetting_the_seq_does_not_drop_counts(client, analytics):
    restaurant = RestaurantFactory()
    view(client, restaurant, 3)
    flush(analytics)
    analytics.delete(keys.SEQ)  # a Redis restart without persistence
    view(client, restaurant, 5)
    report = flush(analytics)
    assert report.skipped == 0
    assert total(restaurant) == 8


def test_top_lists_count_each_view_once_even_across_a_crash(client, analytics, monkeypatch):
    restaurant = RestaurantFactory()
    view(client, restaurant, 4)
    real, calls = counters._update_item, []

    def dying(increment, seq):
        calls.append(increment)
        if len(calls) > 2:
            raise EndpointConnectionError(endpoint_url="http://dynamodb")
        return real(increment, seq)

    monkeypatch.setattr(counters, "_update_item", dying)
    with pytest.raises(EndpointConnectionError):
        flush(analytics)
    monkeypatch.setattr(counters, "_update_item", real)
    flush(analytics)
    flush(analytics)
    hour = hour_buckets(restaurant)[0]["sk"][2:]
    assert analytics.zscore(f"{keys.TOP}views:{hour}", str(restaurant.id)) == 4


def test_losing_the_lock_before_the_snapshot_leaves_the_buffer(client, analytics, monkeypatch):
    restaurant = RestaurantFactory()
    view(client, restaurant, 2)
    monkeypatch.setattr("bellyfed.analytics.flush._reseed_seq", lambda r: r.set(keys.LOCK, "thief"))
    with pytest.raises(LockLost):
        flush(analytics)
    assert analytics.exists(keys.BUFFER)
    monkeypatch.undo()
    analytics.delete(keys.LOCK)
    flush(analytics)
    assert total(restaurant) == 2


def test_rollups_cover_yesterday_too(analytics):
    from datetime import timedelta

    from bellyfed.analytics.rollups import rollup_recent
    from bellyfed.dynamo.counters import Increment

    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    pk = "view#restaurant:777777"
    counters.apply(
        [Increment(pk, f"H#{yesterday}T22", 4), Increment(pk, f"H#{yesterday}T23", 3)], seq=10**9
    )
    analytics.sadd(f"{keys.TOUCHED}{yesterday}", pk)
    assert rollup_recent(analytics) >= 1
    assert counters.count(pk, f"D#{yesterday}") == 7
