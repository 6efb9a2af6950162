"""``flask leaderboards recompute``: rebuild every board, e.g. after a bulk import."""

from __future__ import annotations

import time

import click

from bellyfed.extensions import db
from bellyfed.leaderboards import bp
from bellyfed.leaderboards.compute import recompute_all


@bp.cli.command("recompute")
def recompute_command() -> None:
    """Rescore every leaderboard from the current rankings, in one transaction."""
    started = time.perf_counter()
    count = recompute_all()
    db.session.commit()
    click.echo(f"Recomputed {count:,} leaderboard entries in {time.perf_counter() - started:.1f}s.")
