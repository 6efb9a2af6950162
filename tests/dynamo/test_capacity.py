"""flask dynamo apply-capacity on moto: billing mode both ways, auto-scaling, PITR, dry run,
idempotence; and bad settings. Each test has table names of its own, dropped afterwards."""

from __future__ import annotations

import uuid

import pytest

from bellyfed.dynamo import resource, table_name
from bellyfed.dynamo.scaling import autoscaling
from bellyfed.dynamo.tables import TABLES, drop_tables
from tests.conftest import free_port, make_test_app


@pytest.fixture
def tables(app, monkeypatch):
    """A prefix of its own; returns a function that sets more config for the test."""
    monkeypatch.setitem(app.config, "DYNAMODB_TABLE_PREFIX", f"cap-{uuid.uuid4().hex[:8]}-")

    def configure(**values):
        for name, value in values.items():
            monkeypatch.setitem(app.config, name, value)

    yield configure
    with app.app_context():
        drop_tables()


def run(app, *args: str):
    return app.test_cli_runner().invoke(args=["dynamo", *args])


def state(app) -> dict:
    """Billing, units (table and index), PITR, scalable targets and policies of every table."""
    with app.app_context():
        client, scaling = resource().meta.client, autoscaling()
        names = [table_name(logical) for logical in TABLES]
        tables = {}
        for name in names:
            info = client.describe_table(TableName=name)["Table"]
            backups = client.describe_continuous_backups(TableName=name)
            tables[name] = {
                "billing": info["BillingModeSummary"]["BillingMode"],
                "units": info["ProvisionedThroughput"]["ReadCapacityUnits"],
                "index_units": [i["ProvisionedThroughput"]["WriteCapacityUnits"]
                                for i in info.get("GlobalSecondaryIndexes", [])],
                "pitr": backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"][
                    "PointInTimeRecoveryStatus"],
            }  # fmt: skip
        ids = [f"table/{name}" for name in names]
        ids += [f"table/{name}/index/user_id" for name in names]
        targets = scaling.describe_scalable_targets(ServiceNamespace="dynamodb", ResourceIds=ids)
        policies = [
            policy
            for resource_id in ids
            for policy in scaling.describe_scaling_policies(
                ServiceNamespace="dynamodb", ResourceId=resource_id
            )["ScalingPolicies"]
            if policy["ResourceId"] == resource_id  # moto adds the table's to an index's
        ]
    return {
        "tables": tables,
        "targets": {(t["ResourceId"], t["ScalableDimension"]): (t["MinCapacity"], t["MaxCapacity"])
                    for t in targets["ScalableTargets"]},
        "policies": {(p["ResourceId"], p["ScalableDimension"]):
                     p["TargetTrackingScalingPolicyConfiguration"]["TargetValue"] for p in policies},
    }  # fmt: skip


def test_switches_to_provisioned_with_auto_scaling_and_back(app, tables):
    assert run(app, "create-tables").exit_code == 0
    created = state(app)
    assert {t["billing"] for t in created["tables"].values()} == {"PAY_PER_REQUEST"}
    assert {t["pitr"] for t in created["tables"].values()} == {"ENABLED"}  # DYNAMODB_PITR default
    assert created["targets"] == {}

    tables(DYNAMODB_CAPACITY="provisioned", DYNAMODB_AUTOSCALING_MAX_UNITS="40,20")
    dry = run(app, "apply-capacity", "--dry-run")
    assert dry.exit_code == 0, dry.output
    with app.app_context():
        sessions = table_name("sessions")
    assert (
        f"would: {sessions}: billing on-demand -> provisioned (read 5, write 5; also index user_id)"
        in dry.output
    )
    assert f"would: {sessions}: auto-scaling index user_id write 5-20 units" in dry.output
    assert "Dry run:" in dry.output
    assert state(app) == created  # nothing changed

    applied = run(app, "apply-capacity")
    assert applied.exit_code == 0, applied.output
    planned = [line.removeprefix("would: ") for line in dry.output.splitlines()
               if line.startswith("would: ")]  # fmt: skip
    assert [line for line in applied.output.splitlines() if line.startswith("cap-")] == planned
    now = state(app)
    with app.app_context():
        with_index = {table_name(logical) for logical, spec in TABLES.items() if "index" in spec}
    expected_targets = {}
    for name, table in now["tables"].items():
        assert table["billing"] == "PROVISIONED", name
        assert table["units"] == 5
        assert table["index_units"] == ([5] if name in with_index else [])
        for kind, high in (("Read", 40), ("Write", 20)):
            expected_targets[(f"table/{name}", f"dynamodb:table:{kind}CapacityUnits")] = (5, high)
            if name in with_index:
                key = (f"table/{name}/index/user_id", f"dynamodb:index:{kind}CapacityUnits")
                expected_targets[key] = (5, high)
    assert now["targets"] == expected_targets
    assert now["policies"] == dict.fromkeys(expected_targets, 70.0)

    again = run(app, "apply-capacity")
    assert again.exit_code == 0
    assert "No changes: the tables already match." in again.output

    tables(DYNAMODB_CAPACITY="on-demand")
    back = run(app, "apply-capacity")
    assert back.exit_code == 0, back.output
    assert f"{sessions}: remove scaling policy bellyfed-read-utilisation" in back.output
    assert f"{sessions}: billing provisioned -> on-demand" in back.output
    after = state(app)
    assert {t["billing"] for t in after["tables"].values()} == {"PAY_PER_REQUEST"}
    assert after["targets"] == {}
    assert after["policies"] == {}
    assert "No changes" in run(app, "apply-capacity").output


def test_a_changed_target_or_range_is_updated_in_place(app, tables):
    tables(DYNAMODB_CAPACITY="provisioned", DYNAMODB_PITR="0")
    run(app, "create-tables")  # provisioned tables get auto-scaling when they are created
    before = state(app)
    assert set(before["policies"].values()) == {70.0}
    assert {t["pitr"] for t in before["tables"].values()} == {"DISABLED"}
    tables(DYNAMODB_AUTOSCALING_TARGET="50", DYNAMODB_AUTOSCALING_MIN_UNITS="2",
           DYNAMODB_PITR="1")  # fmt: skip
    result = run(app, "apply-capacity")
    assert result.exit_code == 0, result.output
    assert "billing" not in result.output  # already provisioned: auto-scaling owns the units
    after = state(app)
    assert set(after["policies"].values()) == {50.0}
    assert {low for low, _ in after["targets"].values()} == {2}
    assert {t["pitr"] for t in after["tables"].values()} == {"ENABLED"}
    assert "No changes" in run(app, "apply-capacity").output


def test_fixed_provisioned_units_without_auto_scaling(app, tables):
    tables(DYNAMODB_CAPACITY="provisioned")
    run(app, "create-tables")
    tables(DYNAMODB_AUTOSCALING="off", DYNAMODB_PROVISIONED_UNITS="3,4")
    result = run(app, "apply-capacity")
    assert result.exit_code == 0, result.output
    assert "provisioned units -> read 3, write 4; also index user_id" in result.output
    after = state(app)
    assert after["targets"] == {}
    assert after["policies"] == {}
    assert {t["units"] for t in after["tables"].values()} == {3}
    assert {u for t in after["tables"].values() for u in t["index_units"]} == {4}
    assert "No changes" in run(app, "apply-capacity").output


def test_missing_tables_are_named(app, tables):
    result = run(app, "apply-capacity")
    assert result.exit_code == 0
    assert "missing (flask dynamo create-tables creates it)" in result.output


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [("DYNAMODB_CAPACITY", "sometimes", "DYNAMODB_CAPACITY must be on-demand or provisioned, not 'sometimes'"),
     ("DYNAMODB_PROVISIONED_UNITS", "five", "DYNAMODB_PROVISIONED_UNITS must be read,write units"),
     ("DYNAMODB_PROVISIONED_UNITS", "5,0", "DYNAMODB_PROVISIONED_UNITS must be read,write units"),
     ("DYNAMODB_AUTOSCALING_MAX_UNITS", "3", "need DYNAMODB_AUTOSCALING_MIN_UNITS (5) <= DYNAMODB_PROVISIONED_UNITS (5) <= DYNAMODB_AUTOSCALING_MAX_UNITS (3)"),
     ("DYNAMODB_AUTOSCALING_TARGET", "95", "DYNAMODB_AUTOSCALING_TARGET must be 20-90 (%), not 95"),
     ("DYNAMODB_AUTOSCALING_TARGET", "most", "DYNAMODB_AUTOSCALING_TARGET must be a number"),
     ("DYNAMODB_PITR", "maybe", "DYNAMODB_PITR must be on or off")],
)  # fmt: skip
@pytest.mark.parametrize("command", ["apply-capacity", "create-tables"])
def test_bad_settings_are_clear_errors(app, tables, name, value, message, command):
    tables(**{name: value})
    result = run(app, command)
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output


def test_dynamodb_down_is_a_clear_error(database_url):
    app = make_test_app(database_url, f"http://127.0.0.1:{free_port()}")
    result = run(app, "apply-capacity", "--dry-run")
    assert result.exit_code == 1
    assert "DynamoDB (http://127.0.0.1:" in result.output
    assert "Could not connect" in result.output
