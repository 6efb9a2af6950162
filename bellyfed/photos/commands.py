"""``flask photos``: operator commands for photo storage and the uploads' virus scanner."""

from __future__ import annotations

import click
from flask import current_app

from bellyfed.photos import bp, scan, storage


@bp.cli.command("ensure-bucket")
def ensure_bucket_command() -> None:
    """Create the photo bucket named in PHOTO_BUCKET unless it exists (safe to run repeatedly)."""
    try:
        created = storage.ensure_bucket()
    except storage.PhotoStorageUnavailable as exc:
        raise click.ClickException(str(exc)) from exc
    name = storage.bucket_name()
    click.echo(f"Created bucket {name!r}." if created else f"Bucket {name!r} already exists.")


@bp.cli.command("check-scanner")
def check_scanner_command() -> None:
    """Ask clamd at CLAMD_ADDRESS for its version and signature date; fail if it is away or off."""
    address = current_app.config["CLAMD_ADDRESS"]
    if not address:
        raise click.ClickException("CLAMD_ADDRESS is off: uploads are stored without a virus scan.")
    try:
        version = scan.ping(address, current_app.config["CLAMD_TIMEOUT_SECONDS"])
    except scan.ClamdError as exc:
        raise click.ClickException(f"{exc}: uploads are paused until it answers.") from exc
    click.echo(f"clamd at {address}: {version}")
