"""``flask backup``: create, verify and restore backups."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
import psycopg
from flask import current_app
from flask.cli import AppGroup

from bellyfed.backup import BackupError
from bellyfed.backup.create import create_backup, verify_backup
from bellyfed.backup.location import default_location
from bellyfed.backup.restore import ONLY, RestoreRequest, restore_backup
from bellyfed.dynamo.tables import TABLES

backup_cli = AppGroup("backup", help="Back up and restore PostgreSQL and DynamoDB.")


@contextmanager
def reported() -> Iterator[None]:
    """A failure as one clear line and exit status 1, never a traceback."""
    try:
        yield
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    except psycopg.Error as exc:  # e.g. a table the backup role may not read
        raise click.ClickException(f"PostgreSQL refused: {' '.join(str(exc).split())}") from exc


@backup_cli.command("create")
@click.option(
    "--to",
    "to",
    default=None,
    metavar="DIR|s3://BUCKET/PREFIX",
    help="Where to write [default: BACKUP_LOCATION]; the backup goes into a new "
    "subdirectory named after the UTC time.",
)
def create_command(to: str | None) -> None:
    """Dump PostgreSQL and export every DynamoDB table, with a manifest of checksums."""
    with reported():
        location = create_backup(to or default_location(), click.echo)
    click.echo(f"Backup written to {location}")


@backup_cli.command("verify")
@click.argument("location")
def verify_command(location: str) -> None:
    """Check a backup's files against its manifest (sizes, SHA-256, items, the dump)."""
    with reported():
        manifest, report = verify_backup(location)
    click.echo(
        f"Backup {location}: created {manifest.get('created_at')}, app "
        f"{manifest.get('app_version')}, migration {manifest.get('alembic_revision')}"
    )
    for line in report.lines:
        click.echo(line)
    if report.problems:
        raise click.ClickException(f"Verification FAILED for {', '.join(report.problems)}.")
    click.echo(f"Verified: all {len(report.lines)} files match the manifest.")


@backup_cli.command("restore")
@click.argument("location")
@click.option(
    "--database-url",
    default=None,
    help="The EMPTY database to restore into [default: the app's DATABASE_URL].",
)
@click.option(
    "--table-prefix",
    default=None,
    help="DynamoDB table prefix to restore into; missing tables are created on-demand "
    "[default: DYNAMODB_TABLE_PREFIX].",
)
@click.option(
    "--only",
    type=click.Choice(ONLY),
    default="all",
    show_default=True,
    help="Restore one store only.",
)
@click.option(
    "--table",
    "tables",
    multiple=True,
    type=click.Choice(tuple(TABLES)),
    help="Restore only this DynamoDB table (repeatable).",
)
@click.option(
    "--allow-existing-items",
    is_flag=True,
    help="Continue a DynamoDB import that stopped half-way: the tables may hold items; every "
    "item is put again, then the checksums are compared.",
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def restore_command(
    location: str,
    database_url: str | None,
    table_prefix: str | None,
    only: str,
    tables: tuple[str, ...],
    allow_existing_items: bool,
    yes: bool,
) -> None:
    """Restore into an empty database and empty (or missing) tables, then compare checksums.
    Missing tables are created on-demand; `flask dynamo apply-capacity` sets their capacity."""
    if tables and only == "postgres":
        raise click.UsageError("--table names DynamoDB tables: it cannot go with --only postgres.")
    if allow_existing_items and only == "postgres":
        raise click.UsageError(
            "--allow-existing-items is for DynamoDB tables: it cannot go with --only postgres "
            "(PostgreSQL is restored only into an empty database)."
        )
    request = RestoreRequest(
        location=location,
        database_url=database_url or current_app.config["SQLALCHEMY_DATABASE_URI"],
        table_prefix=table_prefix or current_app.config["DYNAMODB_TABLE_PREFIX"],
        only="dynamodb" if tables else only,
        tables=tables,
        allow_existing_items=allow_existing_items,
    )

    def confirm(question: str) -> None:
        if not yes:
            click.confirm(question, abort=True)

    with reported():
        restore_backup(request, confirm, click.echo)
    click.echo("Restore complete: every checksum matches the backup.")
