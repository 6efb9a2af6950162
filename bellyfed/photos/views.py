"""Photo bytes streamed from S3, with headers that keep them images: never sniffed, never a page."""

from __future__ import annotations

from flask import Response, abort, request
from flask.typing import ResponseReturnValue

from bellyfed.extensions import db
from bellyfed.photos import bp, storage
from bellyfed.photos.models import Photo
from bellyfed.photos.processing import THUMBNAIL_CONTENT_TYPE, thumbnail_size

CHUNK_BYTES = 64 * 1024
# Opened on its own, even a hostile file gets no script, no plugins, no fetches and no origin.
PHOTO_CSP = "default-src 'none'; sandbox"
# Keys are never reused for other bytes, so a photo URL's bytes never change.
CACHE_CONTROL = "public, max-age=31536000, immutable"
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}


@bp.get("/photos/<int:photo_id>")
def show(photo_id: int) -> ResponseReturnValue:
    """The full-size photo."""
    photo = db.get_or_404(Photo, photo_id)
    return _serve(photo.storage_key, photo.content_type, photo.sha256, f"photo-{photo.id}")


@bp.get("/photos/<int:photo_id>/thumb")
def thumbnail(photo_id: int) -> ResponseReturnValue:
    """The thumbnail, or the full photo for a row stored without one."""
    photo = db.get_or_404(Photo, photo_id)
    if photo.thumbnail_key is None:
        return _serve(photo.storage_key, photo.content_type, photo.sha256, f"photo-{photo.id}")
    etag, name = f"{photo.sha256}-thumb", f"photo-{photo.id}-thumb"
    return _serve(photo.thumbnail_key, THUMBNAIL_CONTENT_TYPE, etag, name)


@bp.app_template_global("photo_thumbnail_size")
def photo_thumbnail_size(photo: Photo) -> tuple[int, int]:
    """The thumbnail's width and height, for ``<img>`` attributes that prevent layout shift."""
    return thumbnail_size(photo.width, photo.height)


def _serve(key: str, content_type: str, etag: str, name: str) -> Response:
    """Stream ``key`` as ``content_type`` (the type we recorded, not whatever S3 says)."""
    if request.if_none_match.contains(etag):
        response = Response(status=304)
        response.headers.remove("Content-Type")
        return _photo_headers(response, etag, name, content_type)
    try:
        body, _ = storage.get_object(key)
    except storage.ObjectMissing:
        abort(404)
    except storage.PhotoStorageUnavailable as exc:
        abort(503, description=str(exc))
    response = Response(
        body.iter_chunks(CHUNK_BYTES), content_type=content_type, direct_passthrough=True
    )
    response.call_on_close(body.close)
    return _photo_headers(response, etag, name, content_type)


def _photo_headers(response: Response, etag: str, name: str, content_type: str) -> Response:
    response.set_etag(etag)
    response.headers["Cache-Control"] = CACHE_CONTROL
    response.headers["Content-Disposition"] = (
        f'inline; filename="{name}.{EXTENSIONS[content_type]}"'
    )
    response.headers["Content-Security-Policy"] = PHOTO_CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
