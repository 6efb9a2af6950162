"""``flask demo load``: the demo data set, at any scale."""

from __future__ import annotations

import time

import click
from flask import current_app
from flask.cli import AppGroup

from bellyfed.demo.load import DEMO_PASSWORD, load_demo
from bellyfed.demo.world import DemoSize
from bellyfed.extensions import db

demo_cli = AppGroup("demo", help="Demo data for local use and benchmarks.")


@demo_cli.command("load")
@click.option(
    "--restaurants",
    default=300,
    show_default=True,
    type=click.IntRange(1, 2_000_000),
    help="How many restaurants (about 10 dishes each).",
)
@click.option(
    "--users",
    default=None,
    type=click.IntRange(1, 5_000_000),
    help="How many diners [default: 2 per restaurant, at least 100].",
)
@click.option("--seed", default=DemoSize.seed, show_default=True, help="Same seed, same data.")
@click.option("--reset", is_flag=True, help="Delete all restaurants, users and their data first.")
def load_command(restaurants: int, users: int | None, seed: int, reset: bool) -> None:
    """Fill the database with deterministic demo data; does nothing if restaurants exist."""
    if current_app.config["BELLYFED_ENV"] == "production":  # accounts with a published password
        raise click.UsageError("Demo data is for local use and benchmarks, never production.")
    size = DemoSize(restaurants=restaurants, users=users, seed=seed)
    started = time.perf_counter()
    conn = db.session.connection().connection.driver_connection
    with click.progressbar(length=restaurants + 2 * size.user_count, label="Loading demo data",
                           show_pos=True) as bar:  # fmt: skip
        report = load_demo(conn, size, reset=reset, progress=bar.update)
    if report.skipped:
        db.session.rollback()
        click.echo(f"Demo data already present ({report.counts['restaurants']} restaurants): "
                   "nothing loaded. Use --reset to replace it.")  # fmt: skip
        return
    db.session.commit()
    elapsed = time.perf_counter() - started
    click.echo(f"Loaded in {elapsed:.1f}s:")
    for table, count in report.counts.items():
        click.echo(f"  {table:<24} {count:>10,}")
    click.echo(f"Sign in as 'demo' or 'operator' (admin) with password {DEMO_PASSWORD!r}.")
