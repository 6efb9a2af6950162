"""Restore a backup into an empty database and empty DynamoDB tables, then prove it with the
manifest's checksums (``flask backup restore``).

A DynamoDB import that stopped half-way (throttled, interrupted) continues with
``allow_existing_items``: the tables may then hold items, and every item of the backup is put
again (a whole-item put is idempotent) before the checksums are compared."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import current_app

from bellyfed.backup import BackupError, dynamo, manifest, postgres
from bellyfed.backup.create import Echo
from bellyfed.backup.location import local_copy, parse_location
from bellyfed.dynamo.tables import TABLES

ONLY = ("all", "postgres", "dynamodb")


@dataclass(frozen=True)
class RestoreRequest:
    """What to restore, and where to."""

    location: str
    database_url: str
    table_prefix: str
    only: str = "all"
    tables: tuple[str, ...] = ()  # logical DynamoDB tables; empty: all in the backup
    allow_existing_items: bool = False  # continue an import: tables may hold items already


def restore_backup(request: RestoreRequest, confirm: Callable[[str], None], echo: Echo) -> None:
    """Check the backup and both targets, ask ``confirm``, load, then compare checksums.

    Raises BackupError before writing anything when the backup is damaged or a target holds data,
    and after loading when a checksum differs.
    """
    with local_copy(parse_location(request.location)) as root:
        contents = manifest.read(root)
        report = manifest.verify(root, contents, postgres.tool("pg_restore"))
        if report.problems:
            raise BackupError(
                f"The backup fails verification ({', '.join(report.problems)}): "
                "not restoring. Run `flask backup verify` for details."
            )
        db = postgres.target(request.database_url)
        pg_restore = _check_database(db, contents) if request.only != "dynamodb" else None
        tables = _check_tables(request, contents) if request.only != "postgres" else {}
        where = [db.label] if pg_restore else []
        where += [f"DynamoDB {', '.join(tables.values())}"] if tables else []
        again = " (putting every item again)" if tables and request.allow_existing_items else ""
        confirm(
            f"Restore the backup of {contents['created_at']} into {' and '.join(where)}{again}?"
        )
        if pg_restore:
            echo(f"PostgreSQL {db.label}: pg_restore ...")
            postgres.restore(db, pg_restore, root / postgres.DUMP_FILE)
        created: list[str] = []
        if tables:
            created = dynamo.create_missing(request.table_prefix)
            if created:
                echo(f"Created DynamoDB tables on-demand (for the import): {', '.join(created)}")
            for logical, name in tables.items():
                entry = contents["dynamodb"]["tables"][logical]
                count = dynamo.import_file(name, root / entry["file"])
                echo(f"DynamoDB {name}: {count:,} items written")
    mismatches = _compare(db if pg_restore else None, tables, contents, echo)
    if created:
        echo(_capacity_hint(request.table_prefix, created))
    if mismatches:
        raise BackupError(
            f"Restored, but {len(mismatches)} table(s) differ from the backup: "
            f"{', '.join(mismatches)}."
        )


def _check_database(db: postgres.Target, contents: dict[str, Any]) -> str:
    """The pg_restore to use, once the target database is known to be empty."""
    pg_restore = postgres.check_pg_restore(contents["postgres"]["pg_dump_major"])
    with postgres.connect(db) as conn:
        count, full = postgres.tables_with_rows(conn)
    if full:
        shown = ", ".join(full[:5]) + (f" and {len(full) - 5} more" if len(full) > 5 else "")
        raise BackupError(
            f"Refusing to restore: database {db.label} is not empty ({shown} "
            "hold rows). Restore into a new, empty database."
        )
    if count:
        raise BackupError(
            f"Refusing to restore: database {db.label} already has {count} tables "
            "(without rows). The restore creates the schema itself: use a freshly "
            "created database (createdb)."
        )
    return pg_restore


def _check_tables(request: RestoreRequest, contents: dict[str, Any]) -> dict[str, str]:
    """``{logical: target table}`` to restore, once each target is known to be missing or empty."""
    in_backup = contents["dynamodb"]["tables"]
    chosen = request.tables or tuple(in_backup)
    unknown = [t for t in chosen if t not in in_backup]
    if unknown:
        raise BackupError(
            f"Not in this backup: {', '.join(unknown)} (it has {', '.join(in_backup)})."
        )
    tables = {logical: f"{request.table_prefix}{logical}" for logical in chosen}
    existing = dynamo.existing_tables()
    no_spec = [
        name
        for logical, name in tables.items()
        if name not in existing and not dynamo.known(logical)
    ]
    if no_spec:
        raise BackupError(
            f"Cannot create {', '.join(no_spec)}: this version of the app has no "
            "spec for it. Create the table by hand, then restore again."
        )
    if request.allow_existing_items:
        return tables
    full = [name for name in tables.values() if name in existing and dynamo.has_items(name)]
    if full:
        raise BackupError(
            f"Refusing to restore: DynamoDB table(s) {', '.join(full)} hold items. "
            "Restore under a new --table-prefix, or into emptied tables; to continue a restore "
            "that stopped half-way, add --allow-existing-items."
        )
    return tables


def _capacity_hint(prefix: str, created: list[str]) -> str:
    """How to give the tables a restore created (on-demand) the configured capacity."""
    logical = [name.removeprefix(prefix) for name in created]
    configured = current_app.config["DYNAMODB_TABLE_PREFIX"]
    env = "" if prefix == configured else f"DYNAMODB_TABLE_PREFIX={prefix} "
    every = set(logical) >= set(TABLES)
    tables = "" if every else " " + " ".join(f"--table {name}" for name in logical)
    return (
        "The tables created here are on-demand. To give them the configured capacity "
        f"(DYNAMODB_CAPACITY, auto-scaling, PITR): {env}flask dynamo apply-capacity{tables} "
        "(add --yes if that switches their billing mode)."
    )


def _compare(
    db: postgres.Target | None, tables: dict[str, str], contents: dict[str, Any], echo: Echo
) -> list[str]:
    """Recompute every checksum from the restored data; print equal/MISMATCH per table."""
    results: list[tuple[str, int | None, int | None, bool]] = []
    if db is not None:
        with postgres.connect(db) as conn:
            actual = postgres.table_checksums(conn)
        for name, expected in sorted(contents["postgres"]["tables"].items()):
            got = actual.get(name, {})
            same = got == expected
            results.append((name, expected["rows"], got.get("rows"), same))
    for logical, name in tables.items():
        expected = contents["dynamodb"]["tables"][logical]
        got = dynamo.table_checksum(name)
        same = (got.items, got.hex) == (expected["items"], expected["checksum"])
        results.append((name, expected["items"], got.items, same))
    echo("Checksums against the manifest:")
    for name, expected_count, count, same in results:
        shown = f"{count:,}" if same else f"{count} (backup: {expected_count})"
        echo(f"  {'equal   ' if same else 'MISMATCH'}  {name}: {shown}")
    return [name for name, _, _, same in results if not same]
