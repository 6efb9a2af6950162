"""``flask data``: assess, migrate and validate data between the stores."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click
from botocore.exceptions import BotoCoreError, ClientError
from flask.cli import AppGroup
from sqlalchemy.exc import OperationalError, ProgrammingError

from bellyfed.data import checkpoints
from bellyfed.data.dynamo_io import ThrottledError
from bellyfed.data.framework import Mover, MoveReport, Validation, run_move, validate
from bellyfed.data.preferences import MoveRefused
from bellyfed.data.preferences_store import BadPreferencesStore
from bellyfed.data.registry import ASSESSORS, STORES, UnknownMove, mover_for, valid_moves
from bellyfed.extensions import db

data_cli = AppGroup("data", help="Move data between PostgreSQL and DynamoDB, and validate it.")
STORE = click.Choice(STORES)


@contextmanager
def _clear_errors(doing: str) -> Iterator[None]:
    """Turn what the stores raise into one readable line (no tracebacks)."""
    try:
        yield
    except UnknownMove as exc:
        raise click.UsageError(str(exc)) from exc
    except (MoveRefused, checkpoints.MoveLocked, ThrottledError) as exc:
        raise click.ClickException(f"{doing}: {exc}") from exc
    except ClientError as exc:
        error = exc.response.get("Error", {})
        if error.get("Code") == "ResourceNotFoundException":
            message = "a DynamoDB table is missing (run `flask dynamo create-tables`)"
        else:
            message = f"DynamoDB refused: {error.get('Code')}: {error.get('Message')}"
        raise click.ClickException(f"{doing}: {message}") from exc
    except BotoCoreError as exc:
        raise click.ClickException(f"{doing}: DynamoDB is unreachable ({exc})") from exc
    except ProgrammingError as exc:
        db.session.rollback()
        hint = " (run `flask db upgrade`)" if "does not exist" in str(exc.orig) else ""
        raise click.ClickException(f"{doing}: {str(exc.orig).splitlines()[0]}{hint}") from exc
    except OperationalError as exc:
        raise click.ClickException(
            f"{doing}: PostgreSQL is unreachable ({str(exc.orig).splitlines()[0]})"
        ) from exc
    except BadPreferencesStore as exc:
        raise click.ClickException(f"{doing}: {exc}") from exc


def _mover(kind: str, source: str | None, target: str | None) -> Mover:
    with _clear_errors("Cannot start"):
        return mover_for(kind, source, target)


@data_cli.command("kinds")
def kinds_command() -> None:
    """List the kinds of data that can move, and their directions."""
    click.echo(valid_moves())


@data_cli.command("assess")
@click.argument("kind")
def assess_command(kind: str) -> None:
    """Counts, sizes and access patterns of KIND in both stores (reads only)."""
    if kind not in ASSESSORS:
        raise click.UsageError(f"Unknown kind {kind!r}. Valid moves:\n{valid_moves()}")
    with _clear_errors(f"Cannot assess {kind}"):
        lines = ASSESSORS[kind]()
    click.echo(f"Assessment of {kind}:")
    width = max(len(label) for label, _ in lines)
    for label, value in lines:
        click.echo(f"  {label:<{width}}  {value}")


@data_cli.command("migrate")
@click.argument("kind")
@click.option("--from", "source", type=STORE, required=True, help="The store to read.")
@click.option("--to", "target", type=STORE, required=True, help="The store to write.")
@click.option("--dry-run", is_flag=True, help="Read and transform everything, write nothing.")
@click.option("--resume", is_flag=True, help="Continue an interrupted run from its checkpoint.")
@click.option(
    "--batch-size",
    type=click.IntRange(1, 5000),
    default=500,
    show_default=True,
    help="Records per batch (and per checkpoint).",
)
@click.option("--no-validate", is_flag=True, help="Skip the comparison after the move.")
@click.option(
    "--force",
    is_flag=True,
    help="Run although the service switch advises against it (preferences from PostgreSQL "
    "while PREFERENCES_STORE=postgresql; items newer in DynamoDB are still kept).",
)
def migrate_command(
    kind: str,
    source: str,
    target: str,
    dry_run: bool,
    resume: bool,
    batch_size: int,
    no_validate: bool,
    force: bool,
) -> None:
    """Move KIND from one store to the other, in batches, with checkpoints; then validate."""
    mover = _mover(kind, source, target)
    mover.force = force
    click.echo(
        f"Moving {kind}: {source} → {target} (batches of {batch_size})"
        + (", DRY RUN: nothing will be written" if dry_run else "")
    )
    report = None
    try:
        with _clear_errors(f"{mover.name} stopped"), _lock(mover.name, dry_run):
            for warning in mover.notes():
                click.echo(f"Note: {warning}")
            estimate = mover.estimate()
            with click.progressbar(
                length=max(estimate, 1),
                label="Examined",
                show_pos=True,
                file=sys.stderr,
            ) as bar:
                report = run_move(
                    mover,
                    batch_size=batch_size,
                    dry_run=dry_run,
                    resume=resume,
                    progress=bar.update,
                )
    except click.ClickException as exc:
        if not dry_run:
            exc.message += _where_it_stopped(mover.name)
        raise
    except KeyboardInterrupt:
        raise click.ClickException(f"Interrupted.{_where_it_stopped(mover.name)}") from None
    _print_report(report)
    if dry_run or no_validate or report.nothing_to_do:
        return
    _validate_and_print(mover)


@contextmanager
def _lock(name: str, dry_run: bool) -> Iterator[None]:
    if dry_run:
        yield
    else:
        with checkpoints.locked(name):
            yield


def _where_it_stopped(name: str) -> str:
    try:
        db.session.rollback()
        checkpoint = checkpoints.load(name)
    except Exception:  # the store itself may be what failed: the message stands without it
        return ""
    if checkpoint is None or checkpoint.finished_at is not None:
        return ""
    return (
        f"\nThe checkpoint is after batch {checkpoint.batches} ({checkpoint.records} "
        "records written): rerun with --resume to continue from there."
    )


def _print_report(report: MoveReport) -> None:
    for note in report.notes:
        click.echo(f"Note: {note}")
    if report.nothing_to_do:
        return
    if report.resumed_after_batch is not None:
        click.echo(f"Resumed after batch {report.resumed_after_batch}.")
    rate = report.read / report.seconds if report.seconds else 0
    verb = "would write" if report.dry_run else "wrote"
    click.echo(
        f"Read {report.read}, {verb} {report.written}, rejected {report.rejected_count}, in "
        f"{report.batches} batch(es), {report.seconds:.1f} s ({rate:.0f} records/s)."
    )
    if report.resumed_after_batch is not None:
        click.echo(
            f"All runs together: {report.total_written} written in {report.total_batches} batches."
        )
    for rejected in report.rejected:
        click.echo(f"  rejected {rejected.key}: {rejected.reason}")
    if report.rejected_count > len(report.rejected):
        click.echo(f"  … and {report.rejected_count - len(report.rejected)} more rejected")
    if report.dry_run:
        click.echo("Dry run: nothing was written (no checkpoint either).")


@data_cli.command("validate")
@click.argument("kind")
@click.option("--from", "source", type=STORE, default=None, help="The store moved from.")
@click.option("--to", "target", type=STORE, default=None, help="The store moved to.")
def validate_command(kind: str, source: str | None, target: str | None) -> None:
    """Compare KIND in both stores: counts and a SHA-256 per record; exits 1 on a mismatch."""
    _validate_and_print(_mover(kind, source, target))


def _validate_and_print(mover: Mover) -> None:
    with _clear_errors(f"Cannot validate {mover.name}"):
        result = validate(mover)
    click.echo(
        f"Validation of {mover.name}: source {result.source_count}, target "
        f"{result.target_count}, matching {result.matching}."
    )
    _list(
        "left out or changed by the move on purpose (expected, not a failure)",
        result.expected,
        result.expected_count,
        lambda e: f"{e[0]}: {e[1]}",
    )
    _list(
        "unreadable (never moved; fix or delete them where they are)",
        result.unreadable,
        result.unreadable_count,
        lambda u: f"{u[1]} in {u[0]}: {u[2]}",
    )
    _list("missing in the target", result.missing, result.missing_count, str)
    _list("only in the target", result.extra, result.extra_count, str)
    _list(
        "different",
        result.different,
        result.different_count,
        lambda d: f"{d[0]} (source sha256 {d[1]}…, target {d[2]}…)",
    )
    if not result.ok:
        raise click.ClickException(f"Validation FAILED for {mover.name}: {_problems(result)}.")
    if result.expected_count:
        click.echo(f"Validation OK: every record matches, {result.expected_count} as expected.")
    else:
        click.echo("Validation OK: every record matches.")


def _list(what: str, keys: list, count: int, show: Callable) -> None:
    if not count:
        return
    click.echo(f"  {count} {what}:")
    for key in keys:
        click.echo(f"    {show(key)}")
    if count > len(keys):
        click.echo(f"    … and {count - len(keys)} more")


def _problems(result: Validation) -> str:
    parts = [
        (result.unreadable_count, "unreadable"),
        (result.missing_count, "missing"),
        (result.extra_count, "only in the target"),
        (result.different_count, "different"),
    ]
    return ", ".join(f"{n} {label}" for n, label in parts if n)
