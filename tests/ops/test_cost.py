"""flask cost report: exact figures on recorded usage, the strategy's recommendation, bad options."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from bellyfed.dynamo import table_name
from bellyfed.ops import capacity
from tests.conftest import free_port, make_test_app

HOUR = timedelta(hours=1)
ROUND_PRICES = {
    "DYNAMODB_PRICE_READ_PER_MILLION": 1.0,
    "DYNAMODB_PRICE_WRITE_PER_MILLION": 2.0,
    "DYNAMODB_PRICE_RCU_HOUR": 0.001,
    "DYNAMODB_PRICE_WCU_HOUR": 0.002,
    "DYNAMODB_PRICE_STORAGE_GB_MONTH": 1.0,
    "DYNAMODB_AUTOSCALING_MIN_UNITS": "1,1",
}


@pytest.fixture
def settings(app, monkeypatch, redis_client):
    """Set config for one test (restored afterwards), on a clean Redis."""

    def apply(**values):
        for name, value in values.items():
            monkeypatch.setitem(app.config, name, value)

    return apply


def hours_ago(count: int) -> datetime:
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - count * HOUR


def record(app, start: datetime, rows) -> None:
    """rows: (hour offset, table, operation, read units, write units)."""
    with app.app_context():
        for offset, table, operation, read, write in rows:
            capacity.record(table, operation, read, write, now=start + offset * HOUR + HOUR / 2)


def report(app, *args: str):
    return app.test_cli_runner().invoke(args=["cost", "report", *args])


def window(start: datetime, hours: int) -> list[str]:
    return ["--since", start.isoformat(), "--until", (start + hours * HOUR).isoformat()]


def test_the_figures_are_exact_on_a_known_dataset(app, settings):
    settings(**ROUND_PRICES)
    start = hours_ago(10)
    with app.app_context():
        sessions = table_name("sessions")  # has a GSI: provisioned pays its minimum too
    record(app, start, [
        (0, "cost-t", "GetItem", 3600, 0), (0, "cost-t", "PutItem", 0, 720),
        (1, "cost-t", "Query", 7200, 0), (3, "cost-t", "GetItem", 3600, 0),
        (2, sessions, "PutItem", 0, 3600),
    ])  # fmt: skip
    result = report(app, *window(start, 4), "--format", "json", "--all-tables")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["period"]["hours"] == 4
    assert data["tables_shown"] == "all recorded"
    assert data["extrapolation"] == 182.5
    rows = {row["table"]: row for row in data["tables"]}
    row = rows["cost-t"]
    assert row["read"] == {"units": 14400, "average_per_second": 1.0, "peak_per_second": 2.0,
                           "peak_to_average": 2.0, "units_at_peak": 3}  # fmt: skip
    assert row["write"]["units"] == 720
    assert row["write"]["peak_to_average"] == pytest.approx(4.0)
    assert row["operations"] == {"GetItem.read": 7200, "Query.read": 7200, "PutItem.write": 720}
    # (14,400 x $1 + 720 x $2) / 1M x 730/4
    assert row["on_demand"] == pytest.approx(2.8908)
    # RCU per hour at 70%: 2, 3, 1 (minimum), 2 = 8; WCU: 1, 1, 1, 1 = 4; x 730/4
    assert row["provisioned"] == pytest.approx((8 * 0.001 + 4 * 0.002) * 182.5)
    assert row["provisioned_at_peak"] == pytest.approx((3 * 0.001 + 1 * 0.002) * 730)
    assert row["storage"] is None
    assert row["billing_now"] is None
    assert row["recommendation"] == "on-demand"
    assert "4 h of history (under 72 h: too young)" in row["reasons"][0]
    assert "spiky (over 3x)" in row["reasons"][1]
    indexed = rows[sessions]
    assert indexed["history_hours"] == 2  # first used in the period's third hour
    assert indexed["reasons"][0] == "2 h of history (under 72 h: too young)"
    assert indexed["indexes"] == 1
    assert indexed["billing_now"] == "PAY_PER_REQUEST"
    assert indexed["on_demand"] == pytest.approx(3600 * 2.0 / 1e6 * 182.5)
    # 4 RCU-h, 1+1+2+1 WCU-h over 4 h, plus the index's 1 RCU + 1 WCU all month
    assert indexed["provisioned"] == pytest.approx((4 * 0.001 + 5 * 0.002) * 182.5 + 0.003 * 730)
    assert indexed["storage"] == 0.0  # moto reports TableSizeBytes 0
    idle = [row for name, row in rows.items() if name not in ("cost-t", sessions)]
    assert idle
    assert all(row["reasons"][0].startswith("no traffic") for row in idle)
    assert data["monthly_totals"]["on_demand"] == pytest.approx(2.8908 + 1.314)
    assert data["recommendation"] == "on-demand"


def test_the_text_report_says_what_it_assumed(app, settings):
    settings(**ROUND_PRICES)
    start = hours_ago(6)
    record(app, start, [(0, "cost-t", "GetItem", 3600, 0), (1, "cost-t", "UpdateItem", 0, 36)])
    result = report(app, *window(start, 2), "--all-tables")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "2 h (whole hours: the current one counts once it ends)." in out
    assert "A month = this period x 365.00 (730 h), extrapolated. Tables: all recorded." in out
    assert "ap-southeast-1" in out
    assert "DYNAMODB_PRICE_*" in out
    assert "cost-t (now unknown: no such table here)" in out
    assert "by operation: GetItem.read 3,600.0, UpdateItem.write 36.0" in out
    assert "  -> on-demand: 2 h of history (under 72 h: too young)" in out
    assert "Recommendation: on-demand" in out
    assert "Configured now: on-demand." in out


def steady_or_spiky(app, settings, reads_per_hour: list[float], writes: float = 18000) -> dict:
    prefix = f"cost-{uuid.uuid4().hex[:6]}-"
    settings(DYNAMODB_TABLE_PREFIX=prefix)  # no app tables: just this one
    start = hours_ago(80)
    record(app, start, [(hour, f"{prefix}busy", "Query", units, writes)
                        for hour, units in enumerate(reads_per_hour)])  # fmt: skip
    result = report(app, *window(start, len(reads_per_hour)), "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_steady_traffic_where_provisioned_is_cheaper_gets_provisioned(app, settings):
    data = steady_or_spiky(app, settings, [36000] * 72)  # 10 reads/s, 5 writes/s, all day
    (row,) = data["tables"]
    assert row["read"]["peak_to_average"] == 1.0
    assert row["read"]["units_at_peak"] == 15
    assert row["write"]["units_at_peak"] == 8
    # the default ap-southeast-1 prices
    assert row["on_demand"] == pytest.approx((36000 * 0.1425 + 18000 * 0.7115) * 730 / 1e6)
    assert row["provisioned"] == pytest.approx((15 * 0.000148 + 8 * 0.00074) * 730)
    assert row["recommendation"] == "provisioned"
    assert row["reasons"] == [
        "72 h of history",
        "busiest hour / average: reads 1.0x, writes 1.0x: steady (within 3x)",
        "a month on-demand $13.09 vs provisioned with auto-scaling $5.94: provisioned is cheaper",
    ]
    assert data["recommendation"] == "provisioned"


def test_spiky_traffic_stays_on_demand_even_where_provisioned_is_cheaper(app, settings):
    data = steady_or_spiky(app, settings, [36000] * 60 + [360000] * 12)  # busiest hour 4x average
    (row,) = data["tables"]
    assert row["read"]["peak_to_average"] == pytest.approx(4.0)
    assert row["provisioned"] < row["on_demand"]
    assert row["recommendation"] == "on-demand"
    assert "spiky (over 3x)" in row["reasons"][1]
    assert data["recommendation"] == "on-demand"
    assert data["better_on_demand"] == [row["table"]]


def test_steady_but_small_traffic_stays_on_demand(app, settings):
    data = steady_or_spiky(app, settings, [360] * 72, writes=36)  # the minimum units cost more
    (row,) = data["tables"]
    assert row["recommendation"] == "on-demand"
    assert "steady" in row["reasons"][1]
    assert "on-demand is cheaper" in row["reasons"][2]


def test_the_current_hour_is_left_out_until_it_ends(app, settings):
    with app.app_context():
        sessions = table_name("sessions")
    record(app, hours_ago(1), [(0, sessions, "GetItem", 7, 0), (1, sessions, "GetItem", 1000, 0)])
    result = report(app, "--days", "1", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["period"]["hours"] == 24
    assert data["period"]["until"] == hours_ago(0).isoformat()
    assert {row["table"]: row for row in data["tables"]}[sessions]["read"]["units"] == 7
    result = report(app, "--since", hours_ago(0).isoformat())
    assert result.exit_code == 2
    assert "leaves no whole hour that has ended" in result.output


def test_history_starts_at_the_first_recorded_hour(app, settings):
    prefix = f"cost-{uuid.uuid4().hex[:6]}-"
    settings(DYNAMODB_TABLE_PREFIX=prefix)
    steady = [(hour, f"{prefix}old", "Query", 36000, 18000) for hour in range(72)]
    record(app, hours_ago(80), steady)  # 80 h to 8 h ago
    record(
        app, hours_ago(10), [(hour, f"{prefix}new", "Query", 36000, 18000) for hour in range(10)]
    )
    result = report(app, "--format", "json")  # the default 7 days: 168 h
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["period"]["hours"] == 168
    rows = {row["table"]: row for row in data["tables"]}
    assert rows[f"{prefix}old"]["history_hours"] == 80
    assert rows[f"{prefix}old"]["reasons"][0] == "80 h of history"
    assert rows[f"{prefix}old"]["recommendation"] == "provisioned"
    assert rows[f"{prefix}new"]["history_hours"] == 10
    assert rows[f"{prefix}new"]["reasons"][0] == "10 h of history (under 72 h: too young)"
    assert rows[f"{prefix}new"]["recommendation"] == "on-demand"


def test_only_this_apps_tables_unless_all_tables(app, settings):
    prefix = f"cost-{uuid.uuid4().hex[:6]}-"
    settings(DYNAMODB_TABLE_PREFIX=prefix)
    record(app, hours_ago(2), [(0, "other-app-sessions", "GetItem", 50, 0)])
    alone = report(app, "--days", "1")
    assert alone.exit_code == 1
    assert f"1 other table(s) not starting with '{prefix}' have usage: --all-tables" in (
        alone.output
    )
    record(app, hours_ago(2), [(0, f"{prefix}flags", "GetItem", 5, 0)])
    mine = json.loads(report(app, "--days", "1", "--format", "json").output)
    assert [row["table"] for row in mine["tables"]] == [f"{prefix}flags"]
    assert mine["tables_shown"] == f"{prefix}*"
    every = json.loads(report(app, "--days", "1", "--format", "json", "--all-tables").output)
    assert [row["table"] for row in every["tables"]] == [f"{prefix}flags", "other-app-sessions"]


def test_no_recorded_usage_says_how_to_get_some(app, settings):
    result = report(app, "--days", "2")
    assert result.exit_code == 1
    assert "No DynamoDB usage recorded from" in result.output
    assert "make run" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--days", "-1"], "--days must be 1 to 35, not -1"),
     (["--days", "0"], "--days must be 1 to 35, not 0"),
     (["--days", "36"], "--days must be 1 to 35, not 36"),
     (["--days", "many"], "'many' is not a valid integer"),
     (["--since", "last tuesday"], "--since must be an ISO date or time, not 'last tuesday'"),
     (["--since", "2026-01-02", "--until", "2026-01-01"], "--until (2026-01-01 00:00) must be after --since"),
     (["--until", "2026-01-01"], "--until needs --since"),
     (["--days", "3", "--since", "2026-01-01"], "Use --days or --since/--until, not both"),
     (["--since", "2999-01-01"], "--since (2999-01-01 00:00 UTC) is in the future"),
     (["--since", "2000-01-01"], "Usage is kept 35 days"),
     (["--format", "xml"], "'xml' is not one of 'text', 'json'")],
)  # fmt: skip
def test_bad_options_are_clear_errors(app, settings, args, message):
    result = report(app, *args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [("DYNAMODB_PRICE_READ_PER_MILLION", "cheap", "DYNAMODB_PRICE_READ_PER_MILLION must be a price"),
     ("DYNAMODB_PRICE_RCU_HOUR", -1, "DYNAMODB_PRICE_RCU_HOUR must be a price in USD (0 or more)"),
     ("DYNAMODB_AUTOSCALING_TARGET", 95, "DYNAMODB_AUTOSCALING_TARGET must be 20-90")],
)  # fmt: skip
def test_bad_settings_are_clear_errors(app, settings, name, value, message):
    settings(**{name: value})
    with app.app_context():
        record(app, hours_ago(1), [(0, table_name("flags"), "GetItem", 1, 0)])
    result = report(app, "--days", "1")
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output


def test_redis_down_is_a_clear_error(database_url, aws_endpoint):
    app = make_test_app(database_url, aws_endpoint, REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    result = report(app, "--days", "1")
    assert result.exit_code == 1
    assert "Cannot read the recorded usage from Redis" in result.output


def test_dynamodb_down_leaves_billing_and_storage_unknown(database_url, redis_client):
    app = make_test_app(database_url, f"http://127.0.0.1:{free_port()}")
    record(app, hours_ago(1), [(0, "cost-t", "GetItem", 36, 0)])
    result = report(app, "--days", "1", "--format", "json", "--all-tables")
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.output)["tables"]
    assert row["billing_now"] is None
    assert row["storage"] is None
    assert row["read"]["units"] == 36
