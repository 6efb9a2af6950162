"""Make a backup (``flask backup create``) and check one (``flask backup verify``)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from flask import current_app

from bellyfed.backup import BackupError, dynamo, manifest, postgres
from bellyfed.backup.location import Location, child, exists, local_copy, parse_location, publish
from bellyfed.dynamo import table_name
from bellyfed.dynamo.tables import TABLES

Echo = Callable[[str], None]
# A backup holds password hashes and live session ids: only its owner may read it.
PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def create_backup(to: str, echo: Echo) -> Location:
    """Dump PostgreSQL and export every DynamoDB table into ``<to>/<UTC timestamp>``."""
    base = parse_location(to)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    destination = child(base, stamp)
    if exists(destination):
        raise BackupError(f"A backup already exists at {destination}: try again in a second.")
    db = postgres.target(current_app.config["SQLALCHEMY_DATABASE_URI"])
    existing = dynamo.existing_tables()  # before the long dump: fail fast if DynamoDB is down
    missing = [table_name(t) for t in TABLES if table_name(t) not in existing]
    if missing:
        raise BackupError(
            f"DynamoDB table(s) missing: {', '.join(missing)} "
            "(`flask dynamo create-tables` makes them)."
        )
    with _staging(base, stamp) as staging:
        with postgres.snapshot(db) as (conn, snapshot_id):
            pg_dump, dump_major = postgres.check_pg_dump(conn)
            echo(f"PostgreSQL {db.label}: pg_dump --format=custom ...")
            postgres.dump(db, pg_dump, snapshot_id, staging / postgres.DUMP_FILE)
            pg_tables = postgres.table_checksums(conn)  # same snapshot as the dump
            revision = postgres.alembic_revision(conn)
            server = postgres.server_version(conn)[1]
        echo(f"  {len(pg_tables)} tables, {sum(t['rows'] for t in pg_tables.values()):,} rows")
        (staging / "dynamodb").mkdir(mode=PRIVATE_DIR)
        dynamo_tables: dict[str, dict[str, Any]] = {}
        for logical in TABLES:
            relative = f"dynamodb/{logical}.jsonl"
            checksum = dynamo.export_table(table_name(logical), staging / relative)
            dynamo_tables[logical] = {
                "table": table_name(logical),
                "file": relative,
                "items": checksum.items,
                "checksum": checksum.hex,
            }
            echo(f"DynamoDB {table_name(logical)}: {checksum.items:,} items")
        files = sorted(p for p in staging.rglob("*") if p.is_file())
        manifest.write(
            staging,
            {
                "format": manifest.FORMAT,
                "created_at": datetime.now(UTC)
                .isoformat(timespec="seconds")
                .replace("+00:00", "Z"),
                "app_version": _app_version(),
                "alembic_revision": revision,
                "postgres": {
                    "database": db.label,
                    "server_version": server,
                    "pg_dump_major": dump_major,
                    "file": postgres.DUMP_FILE,
                    "tables": pg_tables,
                },
                "dynamodb": {
                    "table_prefix": current_app.config["DYNAMODB_TABLE_PREFIX"],
                    "tables": dynamo_tables,
                },
                "files": {p.relative_to(staging).as_posix(): manifest.file_entry(p) for p in files},
            },
        )
        if isinstance(destination, Path):
            try:
                _make_private(staging)
                staging.rename(destination)
            except OSError as exc:
                raise BackupError(f"Cannot move the backup into {destination}: {exc}") from exc
        else:
            echo(f"Uploading to {destination} ...")
            publish(staging, destination)
    return destination


def verify_backup(location: str) -> tuple[dict[str, Any], manifest.Report]:
    """The manifest and a per-file report; ``report.problems`` is empty when all is well."""
    with local_copy(parse_location(location)) as root:
        contents = manifest.read(root)
        return contents, manifest.verify(root, contents, postgres.tool("pg_restore"))


@contextmanager
def _staging(base: Location, stamp: str) -> Iterator[Path]:
    """A directory to build the backup in: next to the target when local (renamed at the end,
    so an interrupted run leaves no half backup under the final name), else a temporary one."""
    if not isinstance(base, Path):
        with tempfile.TemporaryDirectory(prefix="bellyfed-backup-") as tmp:
            yield Path(tmp)
        return
    try:
        base.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
        staging = base / f".{stamp}.partial"
        staging.mkdir(mode=PRIVATE_DIR)
    except OSError as exc:
        raise BackupError(f"Cannot write to {base}: {exc}") from exc
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _make_private(root: Path) -> None:
    """Owner-only permissions on everything in a backup (pg_dump creates its file under the
    process's umask; the staging directory, 0o700, kept others out meanwhile)."""
    for path in root.rglob("*"):
        path.chmod(PRIVATE_DIR if path.is_dir() else PRIVATE_FILE)
    root.chmod(PRIVATE_DIR)


def _app_version() -> str:
    try:
        return version("bellyfed")
    except PackageNotFoundError:
        return "unknown"
