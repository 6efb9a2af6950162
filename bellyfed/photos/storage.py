"""Photo bytes in S3: one client per app, built on first use from config (never at import time).

Keys: ``photos/<uuid4 hex>.<jpg|png|webp>`` (originals), ``thumbs/<uuid4 hex>.webp``. A key is
never reused for other bytes, which is what lets the views cache photos forever.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.response import StreamingBody
from flask import current_app

log = logging.getLogger(__name__)

CLIENT_KEY = "bellyfed.photos.s3"
BUCKET_READY_KEY = "bellyfed.photos.bucket_ready"
MISSING_CODES = {"404", "NoSuchKey", "NoSuchBucket", "NotFound"}
# A dead S3 must fail a request in seconds, not hang a worker for a minute.
CLIENT_CONFIG = Config(
    connect_timeout=2, read_timeout=5, retries={"total_max_attempts": 2, "mode": "standard"}
)
UPLOADS_UNAVAILABLE = "Photo uploads are unavailable right now. Please try again later."
PHOTOS_UNAVAILABLE = "Photos are unavailable right now. Please try again shortly."


class PhotoStorageUnavailable(RuntimeError):
    """S3 could not be reached or refused the request; the message is fit to show a user.

    Callers answer it as a 503 (the form again, the diner's text kept); ``scan.ScannerUnavailable``
    is one too: uploads pause while the virus scanner is away.
    """

    def __init__(self, message: str = UPLOADS_UNAVAILABLE) -> None:
        super().__init__(message)


class ObjectMissing(LookupError):
    """No object is stored under the key."""


def get_client() -> Any:
    """The current app's S3 client, built once from ``AWS_REGION`` and ``AWS_ENDPOINT_URL_S3``."""
    client = current_app.extensions.get(CLIENT_KEY)
    if client is None:
        endpoint = current_app.config["AWS_ENDPOINT_URL_S3"]
        # moto and other local endpoints have no DNS per bucket: address buckets by path there.
        config = (
            CLIENT_CONFIG.merge(Config(s3={"addressing_style": "path"}))
            if endpoint
            else CLIENT_CONFIG
        )
        client = boto3.session.Session().client(
            "s3", region_name=current_app.config["AWS_REGION"], endpoint_url=endpoint, config=config
        )
        current_app.extensions[CLIENT_KEY] = client
    return client


def bucket_name() -> str:
    """The bucket named in config."""
    return current_app.config["PHOTO_BUCKET"]


def ensure_bucket() -> bool:
    """Create the bucket unless it exists; True when this call created it."""
    client, bucket = get_client(), bucket_name()
    try:
        client.head_bucket(Bucket=bucket)
        created = False
    except ClientError as exc:
        if _error_code(exc) not in MISSING_CODES:
            raise PhotoStorageUnavailable(f"Cannot use bucket {bucket!r}: {exc}") from exc
        created = _create_bucket(client, bucket)
    except BotoCoreError as exc:
        raise PhotoStorageUnavailable(f"Cannot reach S3: {exc}") from exc
    current_app.extensions[BUCKET_READY_KEY] = True
    return created


def _create_bucket(client: Any, bucket: str) -> bool:
    region = current_app.config["AWS_REGION"]
    # us-east-1 is S3's default location and rejects an explicit LocationConstraint for itself.
    options = (
        {}
        if region == "us-east-1"
        else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    )
    try:
        client.create_bucket(Bucket=bucket, **options)
    except ClientError as exc:
        if _error_code(exc) == "BucketAlreadyOwnedByYou":  # another process won the race
            return False
        raise PhotoStorageUnavailable(f"Cannot create bucket {bucket!r}: {exc}") from exc
    except BotoCoreError as exc:
        raise PhotoStorageUnavailable(f"Cannot reach S3: {exc}") from exc
    log.info("created photo bucket %s in %s", bucket, region)
    return True


def put_object(key: str, data: bytes, content_type: str) -> None:
    """Store ``data`` under ``key``; outside production the bucket is made on the first write."""
    try:
        if not current_app.extensions.get(BUCKET_READY_KEY) and not _production():
            ensure_bucket()
        get_client().put_object(Bucket=bucket_name(), Key=key, Body=data, ContentType=content_type)
    except (BotoCoreError, ClientError, PhotoStorageUnavailable) as exc:
        log.warning("S3 put_object %s failed: %s", key, exc)
        raise PhotoStorageUnavailable() from exc


def get_object(key: str) -> tuple[StreamingBody, str]:
    """The stored body (a stream the caller closes) and its content type."""
    try:
        response = get_client().get_object(Bucket=bucket_name(), Key=key)
    except ClientError as exc:
        if _error_code(exc) in MISSING_CODES:
            raise ObjectMissing(key) from exc
        log.warning("S3 get_object %s failed: %s", key, exc)
        raise PhotoStorageUnavailable(PHOTOS_UNAVAILABLE) from exc
    except BotoCoreError as exc:
        log.warning("S3 get_object %s failed: %s", key, exc)
        raise PhotoStorageUnavailable(PHOTOS_UNAVAILABLE) from exc
    return response["Body"], response.get("ContentType", "application/octet-stream")


def delete_objects(keys: Iterable[str]) -> None:
    """Delete the keys (missing ones are fine); raises PhotoStorageUnavailable if S3 fails."""
    objects = [{"Key": key} for key in keys]
    if not objects:
        return
    try:
        response = get_client().delete_objects(
            Bucket=bucket_name(), Delete={"Objects": objects, "Quiet": True}
        )
    except (BotoCoreError, ClientError) as exc:
        raise PhotoStorageUnavailable() from exc
    if response.get("Errors"):
        raise PhotoStorageUnavailable(f"S3 kept some objects: {response['Errors']}")


def _production() -> bool:
    return current_app.config["BELLYFED_ENV"] == "production"


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
