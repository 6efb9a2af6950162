"""flask dynamo apply-capacity on moto: billing mode both ways, auto-scaling, PITR, dry run,
idempotence; and bad settings. Each test has table names of its own, dropped afterwards."""

from __future__ import annotations

import uuid

import pytest
from botocore.exceptions import ClientError

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
    held = f"would, with --yes: {sessions}: "
    assert f"{held}billing on-demand -> provisioned (read 5, write 5; also index user_id)" in (
        dry.output
    )
    assert f"{held}auto-scaling index user_id write 5-20 units" in dry.output
    assert "Dry run:" in dry.output
    assert state(app) == created  # nothing changed

    refused = run(app, "apply-capacity")  # a billing switch needs --yes: plan, then exit 1
    assert refused.exit_code == 1
    assert f"NOT MADE without --yes: {sessions}: billing on-demand -> provisioned" in (
        refused.output
    )
    assert "re-run with --yes to switch billing modes" in refused.output
    assert "Traceback" not in refused.output
    assert state(app) == created

    applied = run(app, "apply-capacity", "--yes")
    assert applied.exit_code == 0, applied.output
    planned = [line.removeprefix(held[: held.index(sessions)]) for line in dry.output.splitlines()
               if line.startswith("would")]  # fmt: skip
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
    assert run(app, "apply-capacity").exit_code == 1
    assert state(app) == now  # not confirmed: auto-scaling stays too
    back = run(app, "apply-capacity", "--yes")
    assert back.exit_code == 0, back.output
    lines = back.output.splitlines()
    switch = lines.index(f"{sessions}: billing provisioned -> on-demand")
    removal = lines.index(
        f"{sessions}: remove scaling policy bellyfed-read-utilisation of table/{sessions}"
    )
    assert switch < removal  # auto-scaling goes only once the switch succeeded
    after = state(app)
    assert {t["billing"] for t in after["tables"].values()} == {"PAY_PER_REQUEST"}
    assert after["targets"] == {}
    assert after["policies"] == {}
    assert "No changes" in run(app, "apply-capacity").output


def test_without_yes_other_changes_are_still_made(app, tables):
    tables(DYNAMODB_CAPACITY="provisioned", DYNAMODB_PITR="0")
    run(app, "create-tables")
    before = state(app)
    tables(DYNAMODB_CAPACITY="on-demand", DYNAMODB_PITR="1")
    result = run(app, "apply-capacity")
    assert result.exit_code == 1
    assert "point-in-time recovery on" in result.output
    assert "NOT MADE without --yes" in result.output
    assert "(DYNAMODB_CAPACITY; on-demand when unset)" in result.output
    after = state(app)
    assert {t["pitr"] for t in after["tables"].values()} == {"ENABLED"}
    assert {t["billing"] for t in after["tables"].values()} == {"PROVISIONED"}
    assert after["targets"] == before["targets"]
    assert after["policies"] == before["policies"]


def test_a_refused_switch_keeps_the_tables_auto_scaling(app, tables):
    """AWS allows four switches to on-demand a rolling 24 h; moto has no such limit, so the
    refusal is injected into the one UpdateTable call (the rest talks to moto as usual)."""
    tables(DYNAMODB_CAPACITY="provisioned")
    run(app, "create-tables")
    before = state(app)
    with app.app_context():
        sessions, flags = table_name("sessions"), table_name("flags")
        events = resource().meta.client.meta.events

    def refuse(params, **kwargs):
        if params.get("TableName") == sessions:
            error = {"Code": "LimitExceededException", "Message": "Subscriber limit exceeded"}
            raise ClientError({"Error": error}, "UpdateTable")

    events.register("before-parameter-build.dynamodb.UpdateTable", refuse)
    try:
        tables(DYNAMODB_CAPACITY="on-demand")
        result = run(app, "apply-capacity", "--yes")
    finally:
        events.unregister("before-parameter-build.dynamodb.UpdateTable", refuse)
    assert result.exit_code == 1
    assert f"FAILED {sessions}: An error occurred (LimitExceededException)" in result.output
    assert "1 table(s) failed" in result.output
    after = state(app)
    assert after["tables"][sessions]["billing"] == "PROVISIONED"
    kept = {key: value for key, value in after["targets"].items() if sessions in key[0]}
    assert kept == {key: value for key, value in before["targets"].items() if sessions in key[0]}
    assert len(kept) == 4  # table and index, reads and writes
    assert after["tables"][flags]["billing"] == "PAY_PER_REQUEST"
    assert not [key for key in after["targets"] if flags in key[0]]


def test_fixed_units_are_raised_never_lowered(app, tables):
    tables(DYNAMODB_CAPACITY="provisioned")
    run(app, "create-tables")
    with app.app_context():
        flags, sessions = table_name("flags"), table_name("sessions")
        client = resource().meta.client
        # auto-scaling had taken flags up to 30 read, 12 write units
        client.update_table(
            TableName=flags,
            ProvisionedThroughput={"ReadCapacityUnits": 30, "WriteCapacityUnits": 12},
        )
    tables(DYNAMODB_AUTOSCALING="off", DYNAMODB_PROVISIONED_UNITS="8,4")
    result = run(app, "apply-capacity")
    assert result.exit_code == 0, result.output  # no billing switch: no --yes needed
    assert f"{sessions}: provisioned units -> read 8, write 5; also index user_id" in result.output
    assert f"{flags}: provisioned units" not in result.output
    after = state(app)
    assert after["targets"] == {}
    assert after["policies"] == {}
    assert after["tables"][flags]["units"] == 30  # not reset to 8
    with app.app_context():
        info = resource().meta.client.describe_table(TableName=flags)["Table"]
    assert info["ProvisionedThroughput"]["WriteCapacityUnits"] == 12  # not lowered to 5 or 4
    assert after["tables"][sessions]["units"] == 8
    assert after["tables"][sessions]["index_units"] == [5]  # write: max(5 now, 4 configured)
    assert "No changes" in run(app, "apply-capacity").output


def test_table_limits_the_tables_changed(app, tables):
    run(app, "create-tables")
    tables(DYNAMODB_CAPACITY="provisioned")
    result = run(app, "apply-capacity", "--table", "flags", "--table", "flags", "--yes")
    assert result.exit_code == 0, result.output
    with app.app_context():
        flags = table_name("flags")
    assert {line.split(":")[0] for line in result.output.splitlines()[1:-1]} == {flags}
    billing = {name: table["billing"] for name, table in state(app)["tables"].items()}
    assert billing.pop(flags) == "PROVISIONED"
    assert set(billing.values()) == {"PAY_PER_REQUEST"}


def test_an_unknown_table_is_a_usage_error(app, tables):
    result = run(app, "apply-capacity", "--table", "nope")
    assert result.exit_code == 2
    assert "Invalid value for '--table': 'nope' is not one of" in result.output


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
