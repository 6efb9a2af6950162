"""flask dynamo create-tables / describe / drop: idempotent, on a prefix of their own."""

from bellyfed.dynamo.tables import TABLES


def test_create_describe_drop(app, monkeypatch):
    monkeypatch.setitem(app.config, "DYNAMODB_TABLE_PREFIX", "cli-test-")
    runner = app.test_cli_runner()
    first = runner.invoke(args=["dynamo", "create-tables"])
    assert first.exit_code == 0, first.output
    assert "cli-test-analytics" in first.output
    again = runner.invoke(args=["dynamo", "create-tables"])
    assert "already exist" in again.output
    described = runner.invoke(args=["dynamo", "describe"])
    assert all(f"cli-test-{name}: status=ACTIVE" in described.output for name in TABLES)
    assert "billing=PAY_PER_REQUEST" in described.output
    dropped = runner.invoke(args=["dynamo", "drop", "--yes"])
    assert "Dropped: cli-test-analytics" in dropped.output
    assert "status=MISSING" in runner.invoke(args=["dynamo", "describe"]).output
