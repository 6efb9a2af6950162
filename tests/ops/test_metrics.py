"""/metrics: who may read it, and that each source shows up with the right numbers."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import boto3
import pytest
import redis
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError, ParamValidationError
from werkzeug.datastructures import MultiDict

from bellyfed.analytics import keys
from bellyfed.config import ConfigError
from bellyfed.dynamo import resource, table, table_name
from bellyfed.extensions import db
from bellyfed.ops import capacity, dynamo_metrics, task_stats
from bellyfed.ops.heartbeat import record_heartbeat
from bellyfed.search.params import parse
from bellyfed.search.queries import cached_search
from tests.conftest import free_port, make_test_app
from tests.factories import RestaurantFactory
from tests.ops.conftest import scrape
from tests.web import BrowserClient

OUTSIDE = {"REMOTE_ADDR": "203.0.113.9"}
TOKEN = "s3cret-scrape-token"
CALLS = "bellyfed_dynamodb_calls_total"
UNITS = "bellyfed_dynamodb_consumed_capacity_units_total"
LOOKUPS = "bellyfed_cache_lookups_total"


def dead_redis_url() -> str:
    return f"redis://127.0.0.1:{free_port()}/0"


# --- Access ------------------------------------------------------------------------------------


def test_loopback_may_scrape_and_anyone_else_gets_a_plain_404(client):
    assert client.get("/metrics").status_code == 200
    outside = client.get("/metrics", environ_base=OUTSIDE)
    assert outside.status_code == 404
    assert "bellyfed_" not in outside.get_data(as_text=True)


@pytest.mark.parametrize(
    "header",
    ["Bearer wrong", f"Bearer {TOKEN[:-1]}", f"Bearer {TOKEN}-and-more", f"Basic {TOKEN}", TOKEN,
     "Bearer", "", "Bearer ünïcode"],
)  # fmt: skip
def test_only_the_exact_bearer_token_lets_an_outside_scraper_in(app, client, monkeypatch, header):
    monkeypatch.setitem(app.config, "METRICS_TOKEN", TOKEN)
    allowed = client.get(
        "/metrics", environ_base=OUTSIDE, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert allowed.status_code == 200
    assert "bellyfed_http_requests_total" in allowed.get_data(as_text=True)
    refused = client.get("/metrics", environ_base=OUTSIDE, headers={"Authorization": header})
    assert refused.status_code == 404


def test_no_token_configured_means_no_token_works(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "METRICS_TOKEN", "")
    response = client.get("/metrics", environ_base=OUTSIDE, headers={"Authorization": "Bearer "})
    assert response.status_code == 404


def test_allowed_networks_are_configurable(app, database_url, aws_endpoint):
    inside = make_test_app(database_url, aws_endpoint, METRICS_ALLOWED_NETWORKS="203.0.113.0/24")
    web = BrowserClient(inside, inside.response_class)
    assert web.get("/metrics", environ_base=OUTSIDE).status_code == 200
    assert web.get("/metrics").status_code == 404  # loopback is no longer on the list
    listed = make_test_app(database_url, aws_endpoint, METRICS_ALLOWED_NETWORKS=["10.0.0.0/8"])
    web = BrowserClient(listed, listed.response_class)
    assert web.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [{"X-Forwarded-For": "127.0.0.1"}, {"X-Forwarded-For": "127.0.0.1, 127.0.0.1"},
     {"Forwarded": "for=127.0.0.1"}, {"X-Real-IP": "127.0.0.1"}],
)  # fmt: skip
def test_a_forged_forwarding_header_never_lets_an_outsider_in(database_url, aws_endpoint,
                                                              headers):  # fmt: skip
    # With TRUSTED_PROXIES=1, ProxyFix believes the last X-Forwarded-For hop: remote_addr says
    # 127.0.0.1 although the connection came from 203.0.113.9.
    proxied = make_test_app(database_url, aws_endpoint, TRUSTED_PROXIES=1, METRICS_TOKEN=TOKEN)
    web = BrowserClient(proxied, proxied.response_class)
    assert web.get("/metrics", environ_base=OUTSIDE, headers=headers).status_code == 404
    # Through a proxy even a loopback peer (a proxy on the same host) needs the token ...
    assert web.get("/metrics", headers=headers).status_code == 404
    bearer = {"Authorization": f"Bearer {TOKEN}", **headers}
    assert web.get("/metrics", environ_base=OUTSIDE, headers=bearer).status_code == 200
    # ... and a direct scrape from loopback still works without it.
    assert web.get("/metrics").status_code == 200


def test_the_socket_peer_decides_not_the_proxied_address(database_url, aws_endpoint):
    inside = make_test_app(
        database_url, aws_endpoint, TRUSTED_PROXIES=1, METRICS_ALLOWED_NETWORKS="10.0.0.0/8"
    )
    web = BrowserClient(inside, inside.response_class)
    assert web.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 200
    assert web.get("/metrics").status_code == 404  # loopback is not on this list


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [("METRICS_ALLOWED_NETWORKS", "10.0.0.0/8, everywhere", "'everywhere' is not an address"),
     ("METRICS_ALLOWED_NETWORKS", "10.0.0.0/33", "'10.0.0.0/33' is not an address"),
     ("METRICS_TOKEN", 12345, "METRICS_TOKEN must be a string"),
     ("SLOW_QUERY_MS", "fast", "SLOW_QUERY_MS must be a number"),
     ("SLOW_QUERY_MS", -5, "SLOW_QUERY_MS must be a number"),
     ("READYZ_TIMEOUT_SECONDS", "soon", "READYZ_TIMEOUT_SECONDS must be"),
     ("READYZ_TIMEOUT_SECONDS", 0, "READYZ_TIMEOUT_SECONDS must be"),
     ("READYZ_CACHE_SECONDS", "a while", "READYZ_CACHE_SECONDS must be"),
     ("READYZ_CACHE_SECONDS", -1, "READYZ_CACHE_SECONDS must be")],
)  # fmt: skip
def test_bad_settings_refuse_to_start_with_a_clear_message(database_url, setting, value, message):
    with pytest.raises(ConfigError, match=message):
        make_test_app(database_url, None, **{setting: value})


# --- HTTP requests and the pool ----------------------------------------------------------------


def test_requests_are_counted_per_endpoint_not_per_path(client):
    before = scrape(client)
    client.get("/healthz")
    client.get("/healthz")
    client.get("/no/such/page/12345")
    client.open("/healthz", method="BREW")
    after = scrape(client)
    requests = "bellyfed_http_requests_total"
    healthz = {"endpoint": "ops.healthz", "method": "GET"}
    assert after.since(before, requests, status="200", **healthz) == 2
    assert after.since(before, "bellyfed_http_request_duration_seconds_count", **healthz) == 2
    assert after.since(before, requests, endpoint="unmatched", method="GET", status="404") == 1
    assert after.since(before, requests, endpoint="unmatched", method="other", status="405") == 1
    assert not any("no/such" in str(key) for key in after)


def test_pool_gauges_follow_checkouts(app, client):
    with app.app_context():
        pool = db.engine.pool
        with db.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
            held = scrape(client)
        released = scrape(client)
    assert held.value("bellyfed_db_pool_size") == pool.size() == 5
    assert held.value("bellyfed_db_pool_max_connections") == 10
    assert held.value("bellyfed_db_pool_checked_out") >= 1
    assert released.since(held, "bellyfed_db_pool_checked_out") == -1
    assert held.value("bellyfed_db_pool_overflow") == 0


def test_events_lost_to_a_dead_redis_are_counted(app, database_url, aws_endpoint, client):
    dead = make_test_app(database_url, aws_endpoint, REDIS_URL=dead_redis_url())
    before = scrape(client)
    page = BrowserClient(dead, dead.response_class).get("/search?q=laksa")
    assert page.status_code == 200
    # a search records two events: the searches metric and the search itself
    assert scrape(client).since(before, "bellyfed_analytics_lost_events_total") == 2


# --- Caches ------------------------------------------------------------------------------------


def test_search_cache_lookups_are_hits_misses_and_errors(app, client, db_session, redis_client,
                                                         monkeypatch):  # fmt: skip
    monkeypatch.setitem(app.config, "SEARCH_CACHE_SECONDS", 600)
    before = scrape(client)
    params = parse(MultiDict({"q": "char kway teow"}))
    cached_search(params)
    cached_search(params)
    monkeypatch.setitem(app.extensions, "redis", redis.Redis.from_url(dead_redis_url()))
    cached_search(params)
    monkeypatch.undo()
    after = scrape(client)
    for result in ("miss", "hit", "error"):
        assert after.since(before, LOOKUPS, cache="search", result=result) == 1, result


def test_api_cache_lookups_are_counted(app, client, db_session, redis_client, monkeypatch):
    monkeypatch.setitem(app.config, "API_CACHE_SECONDS", 300)
    restaurant = RestaurantFactory(name="Kedai Metrik")
    db_session.commit()
    before = scrape(client)
    url = f"/api/v1/restaurants/{restaurant.slug}"
    assert [client.get(url).headers["X-Cache"] for _ in range(2)] == ["miss", "hit"]
    after = scrape(client)
    for result in ("miss", "hit"):
        assert after.since(before, LOOKUPS, cache="api", result=result) == 1, result


# --- DynamoDB ----------------------------------------------------------------------------------


def test_dynamodb_calls_and_consumed_capacity_are_counted_and_recorded(app, client, redis_client):
    name, key = table_name("cache"), {"pk": "METRICS#probe", "sk": "v#1"}
    before = scrape(client)
    with app.app_context():
        table("cache").put_item(Item=key)
        table("cache").get_item(Key=key)
        # The caller's own choice is kept: INDEXES still carries the table's total.
        answer = table("cache").get_item(Key=key, ReturnConsumedCapacity="INDEXES")
        table("cache").delete_item(Key=key)
        now = datetime.now(UTC)
        usage = capacity.usage(now - timedelta(hours=1), now + timedelta(hours=1))
    assert answer["ConsumedCapacity"]["TableName"] == name
    after = scrape(client)
    assert after.since(before, CALLS, table=name, operation="GetItem") == 2
    assert after.since(before, CALLS, table=name, operation="PutItem") == 1
    latency = "bellyfed_dynamodb_call_duration_seconds_count"
    assert after.since(before, latency, table=name, operation="GetItem") == 2
    # moto charges 0.5 per GetItem and 1 per PutItem or DeleteItem, as CapacityUnits only
    assert after.since(before, UNITS, table=name, operation="GetItem", kind="read") == 1.0
    assert after.since(before, UNITS, table=name, operation="PutItem", kind="write") == 1.0
    assert usage[name] == {
        "read": 1.0, "GetItem.read": 1.0, "write": 2.0, "PutItem.write": 1.0, "DeleteItem.write": 1.0
    }  # fmt: skip


def test_batch_and_transaction_calls_are_counted_per_table(app, client, redis_client):
    name = table_name("cache")
    key = {"pk": "METRICS#batch", "sk": "v#1"}  # the resource's client takes Python values
    before = scrape(client)
    with app.app_context():
        with table("cache").batch_writer() as batch:
            batch.put_item(Item=key)
        dynamodb = resource().meta.client
        dynamodb.batch_get_item(RequestItems={name: {"Keys": [key]}})
        dynamodb.transact_write_items(TransactItems=[{"Delete": {"TableName": name, "Key": key}}])
    after = scrape(client)
    for operation in ("BatchWriteItem", "BatchGetItem", "TransactWriteItems"):
        assert after.since(before, CALLS, table=name, operation=operation) == 1
    assert after.since(before, UNITS, table=name, operation="BatchWriteItem", kind="write") > 0
    assert after.since(before, UNITS, table=name, operation="BatchGetItem", kind="read") > 0


def test_dynamodb_errors_are_counted_by_code(app, client):
    missing = table_name("no-such-table")
    dead = boto3.session.Session().client(
        "dynamodb",
        region_name="ap-southeast-1",
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        config=Config(connect_timeout=0.5, retries={"total_max_attempts": 1}),
    )
    dynamo_metrics.instrument_dynamodb(dead)
    dynamo_metrics.instrument_dynamodb(dead)  # registering twice must not count twice
    before = scrape(client)
    with app.app_context(), pytest.raises(ClientError):
        resource().Table(missing).get_item(Key={"pk": "x", "sk": "y"})
    with pytest.raises(EndpointConnectionError):
        dead.describe_table(TableName="anything")
    with pytest.raises(ParamValidationError):  # botocore's own complaint, not the hooks'
        dead.transact_write_items(TransactItems=["nonsense", {"Put": "nonsense"}])
    after = scrape(client)
    errors = "bellyfed_dynamodb_errors_total"
    code = "ResourceNotFoundException"
    assert after.since(before, errors, table=missing, operation="GetItem", code=code) == 1
    code = "EndpointConnectionError"
    assert after.since(before, errors, table="anything", operation="DescribeTable", code=code) == 1


def test_a_throttled_attempt_is_counted(app):
    # moto never throttles: this feeds the retry hook the response botocore parses from one.
    with app.app_context():
        operation = resource().meta.client.meta.service_model.operation_model("PutItem")
    throttles = dynamo_metrics.DYNAMO_THROTTLES.labels(table="t", operation="PutItem")
    before = throttles._value.get()
    throttled = (None, {"Error": {"Code": "ProvisionedThroughputExceededException"}})
    request_dict = {"context": {"bellyfed_table": "t"}}
    for response in (throttled, (None, {}), None):
        dynamo_metrics._count_throttle(
            response=response, operation=operation, request_dict=request_dict
        )
    assert throttles._value.get() - before == 1


def test_capacity_units_split_reads_and_writes():
    assert dynamo_metrics.capacity_units("GetItem", {"CapacityUnits": 0.5}) == (0.5, 0.0)
    assert dynamo_metrics.capacity_units("UpdateItem", {"CapacityUnits": 1.0}) == (0.0, 1.0)
    both = {"CapacityUnits": 3.0, "ReadCapacityUnits": 1.0, "WriteCapacityUnits": 2.0}
    assert dynamo_metrics.capacity_units("ExecuteTransaction", both) == (1.0, 2.0)
    assert dynamo_metrics.table_of({"RequestItems": {"a": [], "b": []}}) == "multiple"
    assert dynamo_metrics.table_of({"Statement": "SELECT * FROM a"}) == "none"


# --- Shared state read at scrape time ----------------------------------------------------------


def test_queue_depth_flush_lag_buffer_and_heartbeat(app, client, redis_client):
    for _ in range(3):
        redis_client.lpush("celery", "message")
    redis_client.lpush("celery\x06\x166", "a low-priority message")
    redis_client.set(keys.LAST_FLUSH, repr(time.time() - 30))
    minute = "2026-01-01T10:00"
    fields = {f"view|restaurant:1|{minute}": 4, f"view|restaurant:2|{minute}": 1}
    redis_client.hset(keys.BUFFER, mapping=fields)
    record_heartbeat(redis_client, time.time() - 5)
    sample = scrape(client)
    assert sample.value("bellyfed_celery_queue_depth", queue="celery") == 4
    assert 30 <= sample.value("bellyfed_analytics_flush_lag_seconds") < 40
    assert sample.value("bellyfed_analytics_buffered_fields") == 2
    assert 5 <= sample.value("bellyfed_worker_heartbeat_age_seconds") < 15
    redis_client.flushdb()
    empty = scrape(client)
    assert empty.value("bellyfed_celery_queue_depth", queue="celery") == 0
    assert empty.value("bellyfed_analytics_flush_lag_seconds") == float("inf")  # never flushed


def test_task_durations_and_failures_from_the_worker_side(app, client, redis_client):
    celery_app = app.extensions["celery"]

    @celery_app.task(name="tests.ops.boom")
    def boom():
        raise RuntimeError("boom")

    @celery_app.task(name="tests.ops.fine")
    def fine():
        return 1

    task_stats.connect_task_signals(app)
    try:
        fine.apply()
        fine.apply()
        boom.apply()
    finally:
        task_stats.disconnect_task_signals()
    fine.apply()  # not counted any more
    sample = scrape(client)
    runs, duration = "bellyfed_celery_tasks_total", "bellyfed_celery_task_duration_seconds"
    assert sample.value(runs, task="tests.ops.fine", state="SUCCESS") == 2
    assert sample.value(runs, task="tests.ops.boom", state="FAILURE") == 1
    assert sample.value(f"{duration}_count", task="tests.ops.fine") == 2
    assert sample.value(f"{duration}_bucket", task="tests.ops.fine", le="+Inf") == 2
    assert sample.value(f"{duration}_bucket", task="tests.ops.fine", le="0.1") == 2
    assert 0 <= sample.value(f"{duration}_sum", task="tests.ops.fine") < 1


def test_a_scrape_with_redis_down_still_answers(app, database_url, aws_endpoint):
    dead = make_test_app(database_url, aws_endpoint, REDIS_URL=dead_redis_url())
    dead.extensions["celery"].conf.broker_url = dead_redis_url()
    sample = scrape(BrowserClient(dead, dead.response_class))
    assert sample.value("bellyfed_dependency_up", dependency="redis") == 0
    assert sample.value("bellyfed_dependency_up", dependency="postgresql") == 1
    assert "bellyfed_analytics_flush_lag_seconds" not in sample.names()
    assert "bellyfed_http_requests_total" in sample.names()
