"""``flask photos``: operator commands for photo storage."""

from __future__ import annotations

import click

from bellyfed.photos import bp, storage


@bp.cli.command("ensure-bucket")
def ensure_bucket_command() -> None:
    """Create the photo bucket named in PHOTO_BUCKET unless it exists (safe to run repeatedly)."""
    try:
        created = storage.ensure_bucket()
    except storage.PhotoStorageUnavailable as exc:
        raise click.ClickException(str(exc)) from exc
    name = storage.bucket_name()
    click.echo(f"Created bucket {name!r}." if created else f"Bucket {name!r} already exists.")
