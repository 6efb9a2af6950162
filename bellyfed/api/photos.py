"""The caller's photos: upload one, then attach it by id (a top-5 ranking needs one).

The website takes the photo in the same form as the ranking; a JSON API can't, so a client
uploads it here first (multipart/form-data) and sends the answer's ``id`` as ``photo_id`` in
``PUT /me/rankings/dishes/<dish_id>``. Uploads go through ``photos/services.save_upload`` as the
web forms' do (checked, re-encoded, stored in S3) and commit here, as the web views do.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Request, abort, url_for
from flask_smorest.fields import Upload
from marshmallow import RAISE, Schema, ValidationError, fields, validate
from webargs.flaskparser import FlaskParser
from werkzeug.datastructures import CombinedMultiDict, FileStorage

from bellyfed.api.auth import SECURITY, caller_user, token_required
from bellyfed.api.schemas import Blueprint, doc, errors, plain_text
from bellyfed.extensions import db
from bellyfed.photos.models import Photo
from bellyfed.photos.services import (
    PhotoRejected,
    PhotoStorageUnavailable,
    is_empty_upload,
    save_upload,
)
from bellyfed.reviews.services import TooManyPhotos

MAX_ALT_TEXT = 300
NO_FILE = "Send the photo as a file part named “photo”, with a file name."


@contextmanager
def upload_problems() -> Iterator[None]:
    """Saving an upload: a refused image is a 422, too many photos a 409, storage down a 503;
    the transaction is rolled back first."""
    try:
        yield
    except PhotoRejected as exc:
        db.session.rollback()
        abort(422, description=str(exc))
    except TooManyPhotos as exc:
        db.session.rollback()
        abort(409, description=str(exc))
    except PhotoStorageUnavailable as exc:
        db.session.rollback()
        abort(503, description=str(exc))


class MultipartParser(FlaskParser):
    """webargs with one more location, ``multipart``: a form's files and text fields together
    (``files`` alone can't carry the alt text, and a view can document only one body)."""

    __location_map__ = {**FlaskParser.__location_map__, "multipart": "load_multipart"}

    def load_multipart(self, req: Request, schema: Schema) -> Any:
        return self._makeproxy(CombinedMultiDict([req.files, req.form]), schema)


class UploadBlueprint(Blueprint):
    """A blueprint whose ``location="multipart"`` arguments are documented as one form body."""

    ARGUMENTS_PARSER = MultipartParser(unknown=RAISE)
    DEFAULT_LOCATION_CONTENT_TYPE_MAPPING = {
        **Blueprint.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING,
        "multipart": "multipart/form-data",
    }


blp = UploadBlueprint(
    "api_photos",
    __name__,
    description="Your photos: upload one to attach to a top-5 ranking (needs your token).",
)


class FilePart(Upload):
    """An uploaded file; a text part of the same name isn't one."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> FileStorage:
        if not isinstance(value, FileStorage):
            raise ValidationError(NO_FILE)
        return value


class PhotoArgs(Schema):
    photo = FilePart(required=True, metadata=doc("A still JPEG, PNG or WebP photo."))
    alt_text = fields.String(
        load_default="",
        validate=[validate.Length(max=MAX_ALT_TEXT), plain_text],
        metadata=doc(
            f"What the photo shows, for screen readers (up to {MAX_ALT_TEXT} characters). "
            "Left empty, a ranking it is attached to gives it the dish's name."
        ),
    )


class PhotoSchema(Schema):
    id = fields.Integer(required=True, metadata=doc("Send it as photo_id to attach the photo."))
    url = fields.String(required=True, metadata=doc("The full-size photo."))
    thumbnail_url = fields.String(required=True)
    width = fields.Integer(required=True)
    height = fields.Integer(required=True)
    alt_text = fields.String(required=True)


def present(photo: Photo) -> dict[str, Any]:
    """A photo as the API shows it: its own URLs on the site's photo routes."""
    return {
        "id": photo.id,
        "url": url_for("photos.show", photo_id=photo.id, _external=True),
        "thumbnail_url": url_for("photos.thumbnail", photo_id=photo.id, _external=True),
        "width": photo.width,
        "height": photo.height,
        "alt_text": photo.alt_text,
    }


@blp.post("/me/photos")
@errors(blp, 400, 401, 413, 422)  # 400: a NUL in a form field (core/web.py refuses it)
@blp.arguments(PhotoArgs, location="multipart", as_kwargs=True)
@blp.response(201, PhotoSchema)
@blp.doc(security=SECURITY)
@token_required
def upload(photo: FileStorage, alt_text: str) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Upload a photo (multipart/form-data, field ``photo``); attach it by its ``id``.

    The photo is checked and re-encoded as on the website (metadata such as GPS is removed). A
    top-5 place needs a photo of the dish: send this `id` as `photo_id` when ranking it.
    """
    if is_empty_upload(photo):
        abort(422, description=NO_FILE)
    with upload_problems():
        saved = save_upload(photo, uploader_id=caller_user().id, alt_text=alt_text)
    db.session.commit()
    body = present(saved)
    return body, 201, {"Location": body["url"]}
