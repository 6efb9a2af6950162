"""``flask dynamo create-tables | describe | apply-capacity | drop``."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

import click
from botocore.exceptions import BotoCoreError, ClientError
from flask import current_app
from flask.cli import AppGroup

from bellyfed.dynamo.scaling import CapacityError, capacity_plan
from bellyfed.dynamo.tables import (
    TABLES,
    apply_capacity,
    create_tables,
    describe_tables,
    drop_tables,
)

dynamo_cli = AppGroup("dynamo", help="DynamoDB tables.")


def clear_errors(command: Callable[..., None]) -> Callable[..., None]:
    """A bad setting or an unreachable DynamoDB is one line of error, not a traceback."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            command(*args, **kwargs)
        except CapacityError as exc:
            raise click.ClickException(str(exc)) from exc
        except (ClientError, BotoCoreError) as exc:
            where = current_app.config.get("AWS_ENDPOINT_URL_DYNAMODB") or "AWS"
            raise click.ClickException(f"DynamoDB ({where}): {exc}") from exc

    return wrapper


def _summary() -> str:
    plan = capacity_plan()
    mode = plan.mode
    if plan.mode == "provisioned":
        read, write = plan.units
        mode += f" (read {read}, write {write}"
        if plan.autoscaling:
            (low_r, low_w), (high_r, high_w) = plan.min_units, plan.max_units
            mode += f"; auto-scaling read {low_r}-{high_r}, write {low_w}-{high_w} "
            mode += f"at {plan.target:g}%"
        mode += ")"
    return f"capacity {mode}; point-in-time recovery {'on' if plan.pitr else 'not managed'}"


@dynamo_cli.command("create-tables")
@clear_errors
def create_tables_command() -> None:
    """Create missing tables (safe to run again)."""
    created = create_tables()
    if created:
        click.echo(f"Created: {', '.join(created)} ({_summary()}).")
    else:
        click.echo("All tables already exist (flask dynamo apply-capacity changes their capacity).")


@dynamo_cli.command("describe")
@clear_errors
def describe_command() -> None:
    """Show each table's status and size."""
    for row in describe_tables():
        details = ", ".join(f"{k}={v}" for k, v in row.items() if k != "name")
        click.echo(f"{row['name']}: {details}")


@dynamo_cli.command("apply-capacity")
@click.option("--dry-run", is_flag=True, help="Print the changes without making them.")
@click.option(
    "--table",
    "tables",
    multiple=True,
    type=click.Choice(tuple(TABLES)),
    help="Only this table (logical name, repeatable) [default: every table].",
)
@click.option(
    "--yes",
    is_flag=True,
    help="Also switch billing modes (on-demand <-> provisioned), with their auto-scaling changes.",
)
@clear_errors
def apply_capacity_command(dry_run: bool, tables: tuple[str, ...], yes: bool) -> None:
    """Give existing tables the configured billing mode, auto-scaling and PITR (idempotent).

    A billing-mode switch is made only with --yes: without it the command prints it, makes the
    other changes (PITR) and exits 1. Provisioned units are never lowered."""
    click.echo(f"Configured: {_summary()}.")
    result = apply_capacity(dry_run=dry_run, tables=tables, switch_billing=yes)
    for line in result.changes:
        click.echo(f"{'would: ' if dry_run else ''}{line}")
    for line in result.held:
        click.echo(f"{'would, with --yes' if dry_run else 'NOT MADE without --yes'}: {line}")
    for name in result.missing:
        click.echo(f"{name}: missing (flask dynamo create-tables creates it)")
    for line in result.errors:
        click.echo(f"FAILED {line}", err=True)
    if not result.changes and not result.held and not result.errors:
        click.echo("No changes: the tables already match.")
    elif dry_run:
        click.echo(f"Dry run: {len(result.changes) + len(result.held)} change(s) not made.")
    elif result.changes:
        click.echo(f"Done: {len(result.changes)} change(s).")
    if result.errors:
        raise click.ClickException(f"{len(result.errors)} table(s) failed; see above.")
    if result.held and not dry_run:
        switching = sorted({line.split(":", 1)[0] for line in result.held})
        raise click.ClickException(
            f"{len(switching)} table(s) would switch billing mode ({', '.join(switching)}) to "
            f"{capacity_plan().mode} (DYNAMODB_CAPACITY; on-demand when unset). Check the plan "
            "above (flask cost report shows the units the busiest hour needs), then "
            "re-run with --yes to switch billing modes."
        )


@dynamo_cli.command("drop")
@click.confirmation_option(prompt="Drop every Bellyfed DynamoDB table?")
@clear_errors
def drop_command() -> None:
    """Delete the tables (asks first)."""
    dropped = drop_tables()
    click.echo(f"Dropped: {', '.join(dropped)}" if dropped else "No tables to drop.")
