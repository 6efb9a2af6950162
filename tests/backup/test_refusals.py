"""What backup commands refuse, and how they say so: damaged backups, targets holding data,
missing or too old PostgreSQL tools, unreachable services and bad input."""

from __future__ import annotations

import json
import shutil
import stat
import uuid

import psycopg
import pytest
import sqlalchemy as sa

from bellyfed.backup import postgres
from bellyfed.backup.location import S3Location, publish
from bellyfed.backup.manifest import file_entry
from bellyfed.photos.storage import get_client
from tests.backup.conftest import invoke
from tests.conftest import free_port, make_test_app, temporary_database


@pytest.fixture
def copy(source, tmp_path):
    """A copy of the local backup that a test may damage."""
    return shutil.copytree(source.local, tmp_path / "copy")


def fake_tool(directory, name, version):
    """A stand-in client program that only reports a (too old) version."""
    directory.mkdir(exist_ok=True)
    path = directory / name
    path.write_text(f"#!/bin/sh\necho '{name} (PostgreSQL) {version}'\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


@pytest.mark.parametrize(
    ("name", "damage", "message"),
    [
        (
            "dynamodb/sessions.jsonl",
            lambda p: p.write_bytes(p.read_bytes().replace(b"1", b"2", 1)),
            "SHA-256 differs",
        ),
        (
            "dynamodb/flags.jsonl",
            lambda p: p.write_bytes(p.read_bytes()[:-5]),
            "bytes, the manifest says",
        ),
        ("postgres.dump", lambda p: p.unlink(), "missing"),
    ],
)
def test_verify_names_a_damaged_file(source, copy, name, damage, message):
    damage(copy / name)
    result = invoke(source.app, "verify", str(copy))
    assert result.exit_code == 1
    (line,) = [line for line in result.output.splitlines() if f"MISMATCH  {name}: " in line]
    assert message in line
    assert f"Verification FAILED for {name}." in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m: m.pop("files"), "manifest.json is incomplete or was edited: files is missing"),
        (
            lambda m: m["dynamodb"]["tables"]["flags"].update(items="2"),
            "dynamodb.tables['flags'].items is missing or not a number",
        ),
        (lambda m: m.update(format=99), "not a Bellyfed backup manifest"),
    ],
)
def test_an_edited_manifest_is_named(source, copy, edit, message):
    manifest = json.loads((copy / "manifest.json").read_text())
    edit(manifest)
    (copy / "manifest.json").write_text(json.dumps(manifest))
    for args in (("verify", str(copy)), ("restore", str(copy), "--yes")):
        result = invoke(source.app, *args)
        assert result.exit_code == 1
        assert message in result.output
        assert "Traceback" not in result.output


def test_a_manifest_that_is_not_json_is_named(source, copy):
    (copy / "manifest.json").write_text('{"format": 1,')
    result = invoke(source.app, "verify", str(copy))
    assert result.exit_code == 1
    assert "manifest.json is not valid JSON" in result.output


def test_verify_reads_the_dump_with_pg_restore(source, copy):
    """Same size, same digest in the manifest, but not an archive pg_restore can read."""
    manifest = json.loads((copy / "manifest.json").read_text())
    dump = copy / "postgres.dump"
    dump.write_bytes(b"x" * dump.stat().st_size)
    manifest["files"]["postgres.dump"]["sha256"] = file_entry(dump)["sha256"]
    (copy / "manifest.json").write_text(json.dumps(manifest))
    result = invoke(source.app, "verify", str(copy))
    assert result.exit_code == 1
    assert "postgres.dump: pg_restore --list cannot read it" in result.output


def test_verify_names_a_damaged_file_in_s3(source, copy):
    bucket = S3Location(source.s3.removeprefix("s3://").split("/")[0], "tampered")
    with source.app.app_context():
        publish(copy, bucket)
        get_client().put_object(
            Bucket=bucket.bucket, Key="tampered/dynamodb/tokens.jsonl", Body=b'{"pk":{"S":"x"}}\n'
        )
    result = invoke(source.app, "verify", str(bucket))
    assert result.exit_code == 1
    assert "Verification FAILED for dynamodb/tokens.jsonl." in result.output


def test_restore_refuses_a_damaged_backup(source, copy):
    (copy / "dynamodb" / "cache.jsonl").write_text("{}\n")
    with temporary_database("bellyfed_restored") as url:
        result = invoke(source.app, "restore", str(copy), "--database-url", url, "--yes")
    assert result.exit_code == 1
    assert "fails verification (dynamodb/cache.jsonl): not restoring" in result.output


def test_restore_refuses_a_database_with_rows(source):
    result = invoke(
        source.app,
        "restore",
        str(source.local),
        "--database-url",
        source.database_url,
        "--table-prefix",
        "never-",
        "--yes",
    )
    assert result.exit_code == 1
    assert "Refusing to restore" in result.output
    assert "public.alembic_version" in result.output
    assert "Restore into a new, empty database" in result.output


def test_restore_refuses_a_database_with_a_schema(source):
    with temporary_database("bellyfed_restored") as url:
        with psycopg.connect(postgres.target(url).url, autocommit=True) as conn:
            conn.execute("CREATE TABLE restaurants (id int)")
        result = invoke(
            source.app,
            "restore",
            str(source.local),
            "--database-url",
            url,
            "--table-prefix",
            "never-",
            "--yes",
        )
    assert result.exit_code == 1
    assert "already has 1 tables (without rows)" in result.output


def test_restore_refuses_dynamodb_tables_with_items_before_writing_anything(source):
    prefix = source.app.config["DYNAMODB_TABLE_PREFIX"]  # the source's own, full tables
    with temporary_database("bellyfed_restored") as url:
        result = invoke(source.app, "restore", str(source.local), "--database-url", url, "--yes")
        with psycopg.connect(postgres.target(url).url) as conn:
            assert postgres.tables_with_rows(conn) == (0, [])  # PostgreSQL left alone too
    assert result.exit_code == 1
    assert f"DynamoDB table(s) {prefix}analytics" in result.output
    assert "hold items" in result.output


def test_missing_pg_tools_say_what_to_install(source, tmp_path, monkeypatch):
    monkeypatch.setitem(source.app.config, "POSTGRES_BIN_DIR", str(tmp_path))
    for args in (("create", "--to", str(tmp_path / "out")), ("verify", str(source.local))):
        result = invoke(source.app, *args)
        assert result.exit_code == 1
        assert "not found in" in result.output
        assert "install postgresql-client" in result.output
    assert not list((tmp_path / "out").iterdir())  # no half backup left behind


def test_an_old_pg_dump_is_a_version_mismatch(source, tmp_path, monkeypatch):
    fake_tool(tmp_path / "bin", "pg_dump", "9.6.24")
    monkeypatch.setitem(source.app.config, "POSTGRES_BIN_DIR", str(tmp_path / "bin"))
    result = invoke(source.app, "create", "--to", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert "Version mismatch: pg_dump (PostgreSQL) 9.6.24 is too old" in result.output
    assert "the server runs PostgreSQL" in result.output


def test_a_backup_from_a_newer_pg_dump_is_a_version_mismatch(source, copy):
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["postgres"]["pg_dump_major"] = 99
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with temporary_database("bellyfed_restored") as url:
        result = invoke(source.app, "restore", str(copy), "--database-url", url, "--yes")
    assert result.exit_code == 1
    assert "the backup was written by pg_dump 99" in result.output


def test_unreachable_services_are_named(source, tmp_path):
    dead = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/bellyfed"
    result = invoke(source.app, "restore", str(source.local), "--database-url", dead, "--yes")
    assert result.exit_code == 1
    assert "Cannot connect to PostgreSQL at 127.0.0.1:" in result.output
    missing = source.database_url.rsplit("/", 1)[0] + "/bellyfed_no_such_database"
    result = invoke(source.app, "restore", str(source.local), "--database-url", missing, "--yes")
    assert result.exit_code == 1
    assert "Create it first: createdb bellyfed_no_such_database" in result.output
    no_dynamo = make_test_app(source.database_url, f"http://127.0.0.1:{free_port()}")
    result = invoke(no_dynamo, "create", "--to", str(tmp_path))
    assert result.exit_code == 1
    assert "Cannot reach DynamoDB to list tables" in result.output


def test_missing_dynamodb_tables_are_named(source, tmp_path, aws_endpoint):
    app = make_test_app(source.database_url, aws_endpoint, DYNAMODB_TABLE_PREFIX="absent-")
    result = invoke(app, "create", "--to", str(tmp_path))
    assert result.exit_code == 1
    assert "DynamoDB table(s) missing: absent-analytics" in result.output
    assert "flask dynamo create-tables" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("create", "--to", "s3://"), "names no bucket"),
        (("create", "--to", "s3:bucket"), "is not an S3 URL"),
        (("verify", "/nonexistent/backup"), "the directory does not exist"),
        (("verify", "s3://no-such-bucket-here/x"), "Bucket 'no-such-bucket-here' does not exist"),
        (
            ("restore", "LOCAL", "--database-url", "mysql://u@h/db", "--yes"),
            "must be postgresql://",
        ),
        (("restore", "LOCAL", "--table", "nope"), "Invalid value for '--table'"),
        (
            ("restore", "LOCAL", "--table", "flags", "--only", "postgres"),
            "cannot go with --only postgres",
        ),
        (
            ("restore", "LOCAL", "--allow-existing-items", "--only", "postgres"),
            "--allow-existing-items is for DynamoDB tables",
        ),
    ],
)
def test_bad_input_gets_a_clear_error(source, args, message):
    args = tuple(str(source.local) if a == "LOCAL" else a for a in args)
    result = invoke(source.app, *args)
    assert result.exit_code in (1, 2)
    assert message in result.output
    assert "Traceback" not in result.output


def test_verify_of_a_folder_of_backups_names_the_latest(source):
    for folder in (str(source.local.parent), source.s3.rsplit("/", 1)[0]):
        result = invoke(source.app, "verify", folder)
        assert result.exit_code == 1
        assert "is a folder of 1 backup(s), not a backup" in result.output


def test_a_role_that_cannot_read_a_table_is_reported(source, tmp_path):
    role = f"bellyfed_noread_{uuid.uuid4().hex[:8]}"
    admin = postgres.target(source.database_url)
    with psycopg.connect(admin.url, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN')
    try:
        url = sa.make_url(source.database_url).set(username=role).render_as_string(False)
        app = make_test_app(
            url,
            source.app.config["AWS_ENDPOINT_URL_DYNAMODB"],
            DYNAMODB_TABLE_PREFIX=source.app.config["DYNAMODB_TABLE_PREFIX"],
        )
        result = invoke(app, "create", "--to", str(tmp_path))
        assert result.exit_code == 1
        assert "pg_dump could not dump" in result.output
        assert "permission denied" in result.output
        assert not [p for p in tmp_path.rglob("*") if p.is_file()]
    finally:
        with psycopg.connect(admin.url, autocommit=True) as conn:
            conn.execute(f'DROP ROLE "{role}"')
