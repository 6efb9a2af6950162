"""Where backups live: a local directory or an S3 prefix (``s3://bucket/prefix``).

Work always happens in a local directory: ``create`` writes there and then publishes to S3 (data
files first, the manifest last), ``verify`` and ``restore`` download an S3 backup first.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from flask import current_app

from bellyfed.backup import BackupError
from bellyfed.photos import storage

MANIFEST = "manifest.json"
MISSING_BUCKET = ("NoSuchBucket", "404")


@dataclass(frozen=True)
class S3Location:
    """A prefix in an S3 bucket (no trailing slash)."""

    bucket: str
    prefix: str

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"

    def child(self, name: str) -> S3Location:
        return S3Location(self.bucket, f"{self.prefix}/{name}" if self.prefix else name)

    def key(self, relative: str) -> str:
        return f"{self.prefix}/{relative}" if self.prefix else relative


Location = Path | S3Location


def parse_location(text: str) -> Location:
    """A local path or an ``s3://bucket[/prefix]`` URL; raises BackupError on a malformed URL."""
    text = text.strip()
    if not text:
        raise BackupError("The backup location is empty: give a directory or s3://bucket/prefix.")
    if text.lower().startswith("s3:"):
        rest = text[3:]
        if not rest.startswith("//"):
            raise BackupError(f"{text!r} is not an S3 URL: write s3://bucket/prefix.")
        bucket, _, prefix = rest[2:].partition("/")
        if not bucket:
            raise BackupError(f"{text!r} names no bucket: write s3://bucket/prefix.")
        return S3Location(bucket, prefix.strip("/"))
    return Path(text)


def child(location: Location, name: str) -> Location:
    """The location of one backup under a base location."""
    return location / name if isinstance(location, Path) else location.child(name)


def _s3_call(
    what: str, location: S3Location, call: Callable[..., Any], *args: Any, **kwargs: Any
) -> Any:
    try:
        return call(*args, **kwargs)
    except ClientError as exc:
        if _code(exc) in MISSING_BUCKET and what == "list":
            raise BackupError(f"Bucket {location.bucket!r} does not exist.") from exc
        raise BackupError(f"S3 refused to {what} {location}: {exc}") from exc
    except BotoCoreError as exc:
        raise BackupError(f"Cannot reach S3 to {what} {location}: {exc}") from exc


def exists(location: Location) -> bool:
    """Whether a backup (its manifest) is already there."""
    if isinstance(location, Path):
        return (location / MANIFEST).exists()
    client = storage.get_client()
    try:
        response = _s3_call(
            "list",
            location,
            client.list_objects_v2,
            Bucket=location.bucket,
            Prefix=location.key(MANIFEST),
            MaxKeys=1,
        )
    except BackupError as exc:
        if isinstance(exc.__cause__, ClientError) and _code(exc.__cause__) in MISSING_BUCKET:
            return False  # publish() makes the bucket (outside production)
        raise
    return response.get("KeyCount", 0) > 0


def publish(staging: Path, location: S3Location) -> None:
    """Upload a finished local backup; the manifest goes last so a partial upload has none."""
    client = storage.get_client()
    _ensure_bucket(client, location)
    files = sorted(p for p in staging.rglob("*") if p.is_file() and p.name != MANIFEST)
    for path in [*files, staging / MANIFEST]:
        key = location.key(path.relative_to(staging).as_posix())
        _s3_call("upload to", location, client.upload_file, str(path), location.bucket, key)


def _ensure_bucket(client: Any, location: S3Location) -> None:
    try:
        client.head_bucket(Bucket=location.bucket)
        return
    except ClientError as exc:
        code = _code(exc)
        production = current_app.config.get("BELLYFED_ENV") == "production"
        if code not in MISSING_BUCKET or production:
            raise BackupError(
                f"Cannot use bucket {location.bucket!r} ({code or exc}): in production it must "
                "exist already, with versioning on (docs/operations.md)."
            ) from exc
    except BotoCoreError as exc:
        raise BackupError(f"Cannot reach S3 to upload to {location}: {exc}") from exc
    region = current_app.config["AWS_REGION"]
    options = (
        {}
        if region == "us-east-1"
        else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    )
    _s3_call(
        "create the bucket of", location, client.create_bucket, Bucket=location.bucket, **options
    )


@contextmanager
def local_copy(location: Location) -> Iterator[Path]:
    """The backup as a local directory: itself, or a temporary download of what its S3 manifest
    lists (never the whole prefix, which may hold other backups)."""
    if isinstance(location, Path):
        if not location.is_dir():
            raise BackupError(f"No backup at {location}: the directory does not exist.")
        if not (location / MANIFEST).is_file():
            _no_manifest(location, sorted(p.parent.name for p in location.glob(f"*/{MANIFEST}")))
        yield location
        return
    client = storage.get_client()
    with tempfile.TemporaryDirectory(prefix="bellyfed-backup-") as tmp:
        root = Path(tmp)
        if not exists(location):
            _no_manifest(location, _s3_backups_under(client, location))
        _download(client, location, MANIFEST, root)
        for relative in _listed_files(root / MANIFEST):
            _download(client, location, relative, root)
        yield root


def _download(client: Any, location: S3Location, relative: str, root: Path) -> None:
    target = root / relative
    if root not in target.resolve().parents:
        raise BackupError(f"The manifest lists a file outside the backup: {relative!r}.")
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        client.download_file(location.bucket, location.key(relative), str(target))
    except ClientError as exc:
        if _code(exc) not in ("404", "NoSuchKey"):
            raise BackupError(f"S3 refused to download {location}/{relative}: {exc}") from exc
        # missing: verification reports it by name
    except BotoCoreError as exc:
        raise BackupError(f"Cannot reach S3 to download {location}/{relative}: {exc}") from exc


def _listed_files(manifest_path: Path) -> list[str]:
    try:
        files = json.loads(manifest_path.read_text()).get("files", {})
    except (ValueError, AttributeError, UnicodeDecodeError):
        return []  # manifest.read() says what is wrong with it
    return [name for name in files if isinstance(name, str)] if isinstance(files, dict) else []


def _s3_backups_under(client: Any, location: S3Location) -> list[str]:
    response = _s3_call(
        "list",
        location,
        client.list_objects_v2,
        Bucket=location.bucket,
        Prefix=location.key(""),
        Delimiter="/",
    )
    names = [p["Prefix"].rstrip("/").rsplit("/", 1)[-1] for p in response.get("CommonPrefixes", [])]
    return sorted(n for n in names if exists(location.child(n)))


def _no_manifest(location: Location, backups: list[str]) -> None:
    if backups:
        raise BackupError(
            f"{location} is a folder of {len(backups)} backup(s), not a backup: name one, e.g. "
            f"{child(location, backups[-1])} (the latest)."
        )
    raise BackupError(
        f"No backup at {location}: {MANIFEST} is missing (an interrupted backup "
        "or the wrong location?)."
    )


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def default_location() -> str:
    """Where ``create`` writes without ``--to`` (BACKUP_LOCATION)."""
    return current_app.config.get("BACKUP_LOCATION", ".local/backups")
