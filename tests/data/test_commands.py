"""flask data assess / migrate / validate: real runs, and clear errors for bad input."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import update

from bellyfed.data import checkpoints
from bellyfed.data import preferences_store as store
from bellyfed.data.models import ViewHistory
from bellyfed.dynamo import counters, table
from bellyfed.extensions import db
from tests.conftest import free_port


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()

    def invoke(*args):
        return runner.invoke(args=["data", *args])

    return invoke


@pytest.fixture
def old_views(stores):
    for day in ("2026-01-01", "2026-01-02", "2026-01-03"):
        counters.set_count("view#restaurant:5", f"D#{day}", 10)


def test_migrate_then_validate_view_history(cli, old_views):
    result = cli(
        "migrate", "view-history", "--from", "dynamodb", "--to", "postgresql", "--batch-size", "2"
    )

    assert result.exit_code == 0, result.output
    assert "Moving view-history: dynamodb → postgresql (batches of 2)" in result.output
    assert "Read 3, wrote 3, rejected 0" in result.output
    assert "Validation OK: every record matches." in result.output
    again = cli("validate", "view-history")
    assert again.exit_code == 0, again.output
    assert "source 3, target 3, matching 3" in again.output


def test_validate_lists_a_mismatch_and_exits_1(cli, old_views):
    cli("migrate", "view-history", "--from", "dynamodb", "--to", "postgresql")
    db.session.execute(update(ViewHistory).where(ViewHistory.entity_id == 5).values(views=11))
    db.session.commit()

    result = cli("validate", "view-history", "--from", "dynamodb", "--to", "postgresql")

    assert result.exit_code == 1
    assert "3 different:" in result.output
    assert "restaurant:5@2026-01-01 (source sha256" in result.output
    assert "Validation FAILED for view-history:dynamodb->postgresql: 3 different." in result.output
    assert "Traceback" not in result.output


def test_dry_run_and_resume_of_a_finished_run(cli, diners):
    dry = cli("migrate", "preferences", "--from", "postgresql", "--to", "dynamodb", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "would write 5" in dry.output
    assert "Dry run: nothing was written" in dry.output
    assert table("preferences").scan()["Count"] == 0

    cli("migrate", "preferences", "--from", "postgresql", "--to", "dynamodb")
    resumed = cli("migrate", "preferences", "--from", "postgresql", "--to", "dynamodb", "--resume")
    assert resumed.exit_code == 0, resumed.output
    assert "nothing to resume" in resumed.output


def test_assess_both_kinds(cli, old_views, diners):
    views = cli("assess", "view-history")
    assert views.exit_code == 0, views.output
    assert "day buckets to move  3 (restaurant 3)" in views.output
    assert "days                 2026-01-01 to 2026-01-03" in views.output
    prefs = cli("assess", "preferences")
    assert prefs.exit_code == 0, prefs.output
    assert "5 preferences rows" in prefs.output
    assert "PREFERENCES_STORE=dual" in prefs.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["migrate", "photos", "--from", "postgresql", "--to", "dynamodb"],
            "Unknown kind 'photos'. Valid moves:",
        ),
        (
            ["migrate", "view-history", "--from", "postgresql", "--to", "dynamodb"],
            "view-history cannot move postgresql → dynamodb. Valid moves:",
        ),
        (
            ["migrate", "preferences", "--from", "postgresql", "--to", "postgresql"],
            "cannot move postgresql → postgresql",
        ),
        (
            ["migrate", "preferences", "--from", "redis", "--to", "dynamodb"],
            "'redis' is not one of 'postgresql', 'dynamodb'",
        ),
        (["migrate", "preferences", "--to", "dynamodb"], "Missing option '--from'"),
        (
            [
                "migrate",
                "preferences",
                "--from",
                "postgresql",
                "--to",
                "dynamodb",
                "--batch-size",
                "0",
            ],
            "0 is not in the range",
        ),
        (["validate", "preferences", "--to", "dynamodb"], "Give both --from and --to, or neither."),
        (["validate", "nope"], "Unknown kind 'nope'"),
        (["assess", "nope"], "preferences: dynamodb → postgresql"),
    ],
)
def test_bad_input_is_explained(cli, stores, args, message):
    result = cli(*args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_dynamodb_down_is_one_clear_line(cli, app, stores, monkeypatch):
    monkeypatch.setitem(app.config, "AWS_ENDPOINT_URL_DYNAMODB", f"http://127.0.0.1:{free_port()}")
    monkeypatch.delitem(app.extensions, "dynamodb", raising=False)

    result = cli("migrate", "view-history", "--from", "dynamodb", "--to", "postgresql")

    assert result.exit_code == 1
    assert "view-history:dynamodb->postgresql stopped: DynamoDB is unreachable" in result.output
    assert "Traceback" not in result.output


def test_a_run_that_stops_says_how_to_resume(cli, app, diners, monkeypatch):
    monkeypatch.setitem(app.config, "DYNAMODB_TABLE_PREFIX", "no-such-prefix-")
    result = cli("migrate", "preferences", "--from", "postgresql", "--to", "dynamodb")
    assert result.exit_code == 1
    assert "preferences:postgresql->dynamodb stopped: a DynamoDB table is missing" in result.output
    assert (
        "The checkpoint is after batch 0 (0 records written): rerun with --resume" in result.output
    )


def test_a_missing_table_says_how_to_create_it(cli, app, stores, monkeypatch):
    monkeypatch.setitem(app.config, "DYNAMODB_TABLE_PREFIX", "no-such-prefix-")
    result = cli("assess", "preferences")
    assert result.exit_code == 1
    assert "a DynamoDB table is missing (run `flask dynamo create-tables`)" in result.output


def test_a_refused_move_and_a_bad_switch_are_explained(cli, app, stores, monkeypatch):
    monkeypatch.setitem(app.config, "PREFERENCES_STORE", "dynamodb")
    refused = cli("migrate", "preferences", "--from", "postgresql", "--to", "dynamodb")
    assert refused.exit_code == 1
    assert "Switch to dual first." in refused.output

    monkeypatch.setitem(app.config, "PREFERENCES_STORE", "postgresql")
    unsafe = cli("migrate", "preferences", "--from", "postgresql", "--to", "dynamodb")
    assert unsafe.exit_code == 1
    assert "saves made during and after the move would not reach DynamoDB" in unsafe.output
    assert "or pass --force to copy anyway." in unsafe.output
    assert "Traceback" not in unsafe.output

    monkeypatch.setitem(app.config, "PREFERENCES_STORE", "both")
    bad = cli("migrate", "preferences", "--from", "postgresql", "--to", "dynamodb")
    assert bad.exit_code == 1
    assert "PREFERENCES_STORE must be one of postgresql, dual, dynamodb, not 'both'" in bad.output


def test_force_copies_in_postgresql_mode_but_keeps_newer_items(cli, app, diners, monkeypatch):
    monkeypatch.setitem(app.config, "PREFERENCES_STORE", "postgresql")
    newer = diners[0].user_id
    store.put(store.StoredPreferences(newer, 4, 4, (), (), datetime(2026, 12, 1, tzinfo=UTC)))

    result = cli("migrate", "preferences", "--from", "postgresql", "--to", "dynamodb", "--force")

    assert result.exit_code == 1, result.output  # the kept item differs: validation says so
    assert "Note: PREFERENCES_STORE=postgresql (--force)" in result.output
    assert "Read 5, wrote 4, rejected 1" in result.output
    assert f"  rejected user:{newer}: skipped as newer: DynamoDB's item" in result.output
    assert f"1 different:\n    user:{newer} (source sha256" in result.output
    assert store.get(newer).price_min == 4


def test_validate_lists_expected_and_unreadable_items(cli, diners):
    cli("migrate", "preferences", "--from", "postgresql", "--to", "dynamodb")
    leaver = diners[1].user
    db.session.delete(leaver.preferences)
    db.session.delete(leaver)
    db.session.commit()

    clean = cli("validate", "preferences", "--from", "dynamodb", "--to", "postgresql")

    assert clean.exit_code == 0, clean.output
    assert (
        "  1 left out or changed by the move on purpose (expected, not a failure):\n"
        f"    user:{leaver.id}: the user no longer exists\n" in clean.output
    )
    assert "Validation OK: every record matches, 1 as expected." in clean.output

    table("preferences").put_item(Item={**store.key(888888), "user_id": 888888})
    broken = cli("validate", "preferences", "--from", "dynamodb", "--to", "postgresql")

    assert broken.exit_code == 1
    assert (
        "  1 unreadable (never moved; fix or delete them where they are):\n"
        "    USER#888888 in dynamodb: malformed preferences item (KeyError('updated_at'))"
        in broken.output
    )
    assert "Validation FAILED for preferences:dynamodb->postgresql: 1 unreadable." in broken.output


def test_kinds_lists_every_move(cli):
    result = cli("kinds")
    assert result.output.splitlines() == [
        "  view-history: dynamodb → postgresql",
        "  preferences: postgresql → dynamodb",
        "  preferences: dynamodb → postgresql",
    ]


def test_two_runs_of_one_move_cannot_overlap(cli, old_views):
    with checkpoints.locked("view-history:dynamodb->postgresql"):
        result = cli("migrate", "view-history", "--from", "dynamodb", "--to", "postgresql")
    assert result.exit_code == 1
    assert "Another run of view-history:dynamodb->postgresql is in progress" in result.output
    assert cli("migrate", "view-history", "--from", "dynamodb", "--to", "postgresql").exit_code == 0
