"""What other features call: save an upload as a Photo, delete one. Callers commit.

An upload is scanned by clamd (photos/scan.py) before Pillow decodes it. Bytes go to S3 before the
row is flushed, so a failed upload never leaves a row behind; S3 objects of a deleted photo go
only once the deletion commits, so a rolled-back delete keeps its images.
"""

from __future__ import annotations

import logging
import uuid
from typing import IO

from flask import current_app
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage

from bellyfed.accounts.models import User
from bellyfed.extensions import db
from bellyfed.photos import storage
from bellyfed.photos.models import Photo
from bellyfed.photos.processing import PhotoRejected, process_photo
from bellyfed.photos.scan import PhotoInfected, ScannerUnavailable, scan_upload
from bellyfed.photos.storage import PhotoStorageUnavailable

__all__ = [
    "PhotoInfected",
    "PhotoRejected",
    "PhotoStorageUnavailable",
    "ScannerUnavailable",
    "delete_photo",
    "is_empty_upload",
    "save_upload",
]

log = logging.getLogger(__name__)

# Session.info key: S3 keys to delete once the session's transaction commits.
KEYS_TO_DELETE = "bellyfed.photos.keys_to_delete"


def is_empty_upload(upload: FileStorage | None) -> bool:
    """True when an optional file field was left empty (browsers send a nameless, empty part)."""
    return upload is None or not (upload.filename or "").strip()


def save_upload(
    upload: FileStorage,
    *,
    uploader_id: int,
    review_id: int | None = None,
    position: int = 0,
    alt_text: str = "",
) -> Photo:
    """Check, clean and store an upload; add its Photo to the session (flushed, not committed)."""
    max_bytes = current_app.config["PHOTO_MAX_BYTES"]
    data = _read_at_most(upload.stream, max_bytes + 1)
    # Empty or past the limit, it is refused below by size alone: clamd need not see it.
    if 0 < len(data) <= max_bytes:
        scan_upload(data, uploader_id=uploader_id)
    processed = process_photo(
        data, max_bytes=max_bytes, max_pixels=current_app.config["PHOTO_MAX_PIXELS"]
    )
    original, thumbnail = processed.original, processed.thumbnail
    _check_quota(uploader_id, original.byte_size)
    storage_key = f"photos/{uuid.uuid4().hex}.{original.extension}"
    thumbnail_key = f"thumbs/{uuid.uuid4().hex}.{thumbnail.extension}"
    try:
        storage.put_object(storage_key, original.data, original.content_type)
        storage.put_object(thumbnail_key, thumbnail.data, thumbnail.content_type)
    except PhotoStorageUnavailable:
        _delete_quietly([storage_key])  # the original may have made it before S3 failed
        raise
    photo = Photo(
        uploader_id=uploader_id,
        review_id=review_id,
        position=position,
        storage_key=storage_key,
        thumbnail_key=thumbnail_key,
        content_type=original.content_type,
        width=original.width,
        height=original.height,
        byte_size=original.byte_size,
        sha256=original.sha256,
        alt_text=alt_text.strip(),
    )
    db.session.add(photo)
    try:
        db.session.flush()
    except Exception:
        _delete_quietly([storage_key, thumbnail_key])
        raise
    return photo


def _check_quota(uploader_id: int, adding: int) -> None:
    """Refuse an upload that would take the uploader past PHOTO_QUOTA_BYTES (ASVS 12.1.3).

    The uploader's row is locked for the rest of the transaction, so two uploads at once are
    counted one after the other, never both against the same total.
    """
    quota = current_app.config["PHOTO_QUOTA_BYTES"]
    db.session.execute(select(User.id).where(User.id == uploader_id).with_for_update())
    used = db.session.scalar(
        select(func.coalesce(func.sum(Photo.byte_size), 0)).where(Photo.uploader_id == uploader_id)
    )
    if used + adding > quota:
        raise PhotoRejected(
            f"You've used your {quota // (1024 * 1024)} MB of photo space. "
            "Delete some of your photos to add more."
        )


def delete_photo(photo: Photo) -> None:
    """Delete the row now (flushed, not committed) and its S3 objects once that commits."""
    keys = [key for key in (photo.storage_key, photo.thumbnail_key) if key]
    db.session.delete(photo)
    db.session.flush()
    db.session.info.setdefault(KEYS_TO_DELETE, []).extend(keys)


@event.listens_for(Session, "after_commit")
def _delete_committed_objects(session: Session) -> None:
    keys = session.info.pop(KEYS_TO_DELETE, None)
    if keys:
        _delete_quietly(keys)


@event.listens_for(Session, "after_rollback")
def _keep_objects_of_rolled_back_deletes(session: Session) -> None:
    session.info.pop(KEYS_TO_DELETE, None)


def _delete_quietly(keys: list[str]) -> None:
    # An orphaned object costs a few cents; failing the user's request over it would cost more.
    try:
        storage.delete_objects(keys)
    except Exception:
        log.exception("could not delete photo objects %s from S3", keys)


def _read_at_most(stream: IO[bytes], limit: int) -> bytes:
    """Up to ``limit`` bytes, looping because a raw stream may return fewer than asked."""
    chunks, remaining = [], limit
    while remaining > 0:
        chunk = stream.read(remaining)
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)
