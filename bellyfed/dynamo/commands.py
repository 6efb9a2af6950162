"""``flask dynamo create-tables | describe | drop``."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from bellyfed.dynamo.tables import create_tables, describe_tables, drop_tables

dynamo_cli = AppGroup("dynamo", help="DynamoDB tables.")


@dynamo_cli.command("create-tables")
def create_tables_command() -> None:
    """Create missing tables (safe to run again)."""
    created = create_tables()
    click.echo(f"Created: {', '.join(created)}" if created else "All tables already exist.")


@dynamo_cli.command("describe")
def describe_command() -> None:
    """Show each table's status and size."""
    for row in describe_tables():
        details = ", ".join(f"{k}={v}" for k, v in row.items() if k != "name")
        click.echo(f"{row['name']}: {details}")


@dynamo_cli.command("drop")
@click.confirmation_option(prompt="Drop every Bellyfed DynamoDB table?")
def drop_command() -> None:
    """Delete the tables (asks first)."""
    dropped = drop_tables()
    click.echo(f"Dropped: {', '.join(dropped)}" if dropped else "No tables to drop.")
