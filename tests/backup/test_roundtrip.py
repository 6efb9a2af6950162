"""A full round trip: demo data and DynamoDB items out to a backup, back into new, empty stores,
with equal checksums in both."""

from __future__ import annotations

import json
import stat
import uuid

import pytest

from bellyfed.backup import dynamo, postgres
from bellyfed.backup.location import MANIFEST
from bellyfed.dynamo import resource
from bellyfed.dynamo.tables import TABLES
from tests.backup.conftest import ODD_ITEM, drop_tables_with_prefix, invoke
from tests.conftest import temporary_database


def test_the_manifest_describes_both_stores(source):
    manifest = json.loads((source.local / MANIFEST).read_text())
    assert manifest["alembic_revision"]
    assert manifest["app_version"]
    assert manifest["created_at"].endswith("Z")
    pg_tables = manifest["postgres"]["tables"]
    assert pg_tables["public.restaurants"]["rows"] == 3
    assert pg_tables["public.users"]["rows"] == 6
    assert pg_tables["public.rankings"]["rows"] > 0
    assert pg_tables["public.alembic_version"]["rows"] == 1
    dynamo_tables = manifest["dynamodb"]["tables"]
    assert set(dynamo_tables) == set(TABLES)
    assert dynamo_tables["sessions"]["items"] == 3
    assert dynamo_tables["flags"]["items"] == 2  # the flag and its change log
    assert dynamo_tables["tokens"]["items"] == 2
    assert dynamo_tables["cache"]["items"] == 1
    for name, entry in manifest["files"].items():
        assert (source.local / name).stat().st_size == entry["bytes"]
        assert len(entry["sha256"]) == 64


def test_exports_keep_every_dynamodb_type_exactly(source):
    line = (source.local / "dynamodb" / "cache.jsonl").read_text().strip()
    assert json.loads(line)["big"] == {"N": "12345678901234567890123456789.012345678"}
    assert dynamo._item_of(line) == ODD_ITEM


def test_the_export_follows_every_scan_page(source, tmp_path, monkeypatch):
    monkeypatch.setattr(dynamo, "SCAN_PAGE_ITEMS", 1)  # one item per Scan request
    manifest = json.loads((source.local / MANIFEST).read_text())
    entry = manifest["dynamodb"]["tables"]["sessions"]
    with source.app.app_context():
        checksum = dynamo.export_table(entry["table"], tmp_path / "sessions.jsonl")
    assert checksum.items == entry["items"] == 3
    assert checksum.hex == entry["checksum"]
    assert len((tmp_path / "sessions.jsonl").read_text().splitlines()) == 3


def test_verify_accepts_an_intact_backup(source):
    for location in (str(source.local), source.s3):
        result = invoke(source.app, "verify", location)
        assert result.exit_code == 0, result.output
        # the dump and one export per table
        assert f"Verified: all {len(TABLES) + 1} files match the manifest." in result.output
        assert "pg_restore --list" in result.output


@pytest.mark.parametrize("where", ["local", "s3"])
def test_restore_into_new_stores_gives_equal_checksums(source, where):
    location = str(source.local) if where == "local" else source.s3
    prefix = f"restored-{uuid.uuid4().hex[:8]}-"
    manifest = json.loads((source.local / MANIFEST).read_text())
    with temporary_database("bellyfed_restored") as url:
        try:
            result = invoke(
                source.app,
                "restore",
                location,
                "--database-url",
                url,
                "--table-prefix",
                prefix,
                "--yes",
            )
            assert result.exit_code == 0, result.output
            assert "MISMATCH" not in result.output
            assert "equal     public.restaurants: 3" in result.output
            assert f"equal     {prefix}cache: 1" in result.output
            assert "Restore complete" in result.output
            # Recomputed independently of the command: both stores equal the source's.
            with postgres.connect(postgres.target(url)) as conn:
                restored = postgres.table_checksums(conn)
            with postgres.connect(postgres.target(source.database_url)) as conn:
                original = postgres.table_checksums(conn)
            assert restored == original == manifest["postgres"]["tables"]
            with source.app.app_context():
                for logical in TABLES:
                    copy = dynamo.table_checksum(f"{prefix}{logical}")
                    live = dynamo.table_checksum(manifest["dynamodb"]["tables"][logical]["table"])
                    assert (
                        copy.hex == live.hex == manifest["dynamodb"]["tables"][logical]["checksum"]
                    )
                item = (
                    resource()
                    .Table(f"{prefix}cache")
                    .get_item(Key={"pk": "ODD#1", "sk": "v#1"})["Item"]
                )
                assert item == ODD_ITEM
        finally:
            drop_tables_with_prefix(source.app, prefix)


def test_restore_of_one_dynamodb_table_only(source):
    prefix = f"one-{uuid.uuid4().hex[:8]}-"
    try:
        result = invoke(
            source.app,
            "restore",
            str(source.local),
            "--table",
            "flags",
            "--table-prefix",
            prefix,
            "--yes",
        )
        assert result.exit_code == 0, result.output
        assert f"equal     {prefix}flags: 2" in result.output
        assert "public." not in result.output  # PostgreSQL untouched
        with source.app.app_context():
            assert dynamo.table_checksum(f"{prefix}sessions").items == 0
    finally:
        drop_tables_with_prefix(source.app, prefix)


def test_restore_asks_first(source):
    with temporary_database("bellyfed_restored") as url:
        result = invoke(
            source.app,
            "restore",
            str(source.local),
            "--database-url",
            url,
            "--table-prefix",
            "never-",
            input="n\n",
        )
        assert result.exit_code == 1
        assert "Restore the backup of" in result.output
        assert "Aborted" in result.output
        with postgres.connect(postgres.target(url)) as conn:
            assert postgres.tables_with_rows(conn) == (0, [])


def test_backup_files_are_private(source):
    """It holds password hashes and live session ids."""
    assert stat.S_IMODE(source.local.stat().st_mode) == 0o700
    paths = list(source.local.rglob("*"))
    assert {p.name for p in paths} >= {"postgres.dump", "manifest.json", "dynamodb", "flags.jsonl"}
    for path in paths:
        assert stat.S_IMODE(path.stat().st_mode) == (0o700 if path.is_dir() else 0o600), path


def test_restore_creates_tables_on_demand_and_continues_with_existing_items(source, monkeypatch):
    """Configured provisioned, a restore still creates on-demand tables (a bulk import into 5
    write units is throttled); a second run refuses, --allow-existing-items continues it."""
    monkeypatch.setitem(source.app.config, "DYNAMODB_CAPACITY", "provisioned")
    prefix = f"resume-{uuid.uuid4().hex[:8]}-"
    args = ("restore", str(source.local), "--table", "sessions", "--table-prefix", prefix, "--yes")
    try:
        first = invoke(source.app, *args)
        assert first.exit_code == 0, first.output
        assert f"Created DynamoDB tables on-demand (for the import): {prefix}analytics" in (
            first.output
        )
        hint = f"DYNAMODB_TABLE_PREFIX={prefix} flask dynamo apply-capacity (add --yes"
        assert hint in first.output  # every table was created: no --table list
        with source.app.app_context():
            client = resource().meta.client
            for logical in TABLES:
                info = client.describe_table(TableName=f"{prefix}{logical}")["Table"]
                assert info["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
            # An import that stopped half-way: one item is missing.
            sessions = resource().Table(f"{prefix}sessions")
            key = {"pk": "SESSION#session-1", "sk": "META"}
            assert sessions.get_item(Key=key).get("Item")
            sessions.delete_item(Key=key)
            client.delete_table(TableName=f"{prefix}flags")  # and one table is gone

        again = invoke(source.app, *args)
        assert again.exit_code == 1
        assert f"DynamoDB table(s) {prefix}sessions hold items" in again.output
        assert "add --allow-existing-items" in again.output

        resumed = invoke(source.app, *args, "--allow-existing-items")
        assert resumed.exit_code == 0, resumed.output
        assert f"DynamoDB {prefix}sessions: 3 items written" in resumed.output
        assert f"equal     {prefix}sessions: 3" in resumed.output
        assert f"Created DynamoDB tables on-demand (for the import): {prefix}flags\n" in (
            resumed.output
        )
        assert f"DYNAMODB_TABLE_PREFIX={prefix} flask dynamo apply-capacity --table flags (" in (
            resumed.output
        )
        with source.app.app_context():
            assert sessions.get_item(Key=key).get("Item")
    finally:
        drop_tables_with_prefix(source.app, prefix)


def test_allow_existing_items_still_compares_checksums(source):
    """Items that are not in the backup stay, and the checksum says so."""
    prefix = f"extra-{uuid.uuid4().hex[:8]}-"
    args = ("restore", str(source.local), "--table", "flags", "--table-prefix", prefix, "--yes")
    try:
        assert invoke(source.app, *args).exit_code == 0
        with source.app.app_context():
            resource().Table(f"{prefix}flags").put_item(Item={"pk": "FLAG#stray", "sk": "CONFIG"})
        result = invoke(source.app, *args, "--allow-existing-items")
        assert "Created DynamoDB tables" not in result.output
        assert result.exit_code == 1
        assert f"MISMATCH  {prefix}flags: 3 (backup: 2)" in result.output
        assert "Traceback" not in result.output
    finally:
        drop_tables_with_prefix(source.app, prefix)
