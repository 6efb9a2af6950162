"""save_upload / delete_photo against PostgreSQL and moto's S3 server."""

from __future__ import annotations

import hashlib
import io
import logging
import re

import pytest
import sqlalchemy as sa
from PIL import Image
from sqlalchemy.exc import IntegrityError
from werkzeug.datastructures import FileStorage

from bellyfed.extensions import db
from bellyfed.photos import services, storage
from bellyfed.photos.models import Photo
from bellyfed.photos.services import (
    PhotoRejected,
    PhotoStorageUnavailable,
    delete_photo,
    is_empty_upload,
    save_upload,
)
from tests.factories import ReviewFactory, UserFactory
from tests.photos import images
from tests.photos.conftest import make_upload, stored_bytes, stored_content_type, switch_off_s3

# Every upload here is scanned by the private clamd first, as in production.
pytestmark = pytest.mark.usefixtures("scanning")


def photo_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Photo))


def spy_on_puts(monkeypatch, fail_on_call: int | None = None) -> list[str]:
    """Record the keys put to S3; optionally make the n-th put fail as if S3 went away."""
    keys, real_put = [], storage.put_object

    def put(key, data, content_type):
        keys.append(key)
        if len(keys) == fail_on_call:
            raise PhotoStorageUnavailable()
        real_put(key, data, content_type)

    monkeypatch.setattr(storage, "put_object", put)
    return keys


def test_save_upload_stores_clean_bytes_and_a_thumbnail_and_flushes_the_row(uploader):
    review = ReviewFactory(user_id=uploader.id)
    upload = make_upload(images.phone_jpeg((1600, 1200), orientation=6))

    photo = save_upload(
        upload, uploader_id=uploader.id, review_id=review.id, position=2, alt_text=" Laksa "
    )

    assert photo.id is not None
    assert photo in db.session
    assert (photo.uploader_id, photo.review_id, photo.position) == (uploader.id, review.id, 2)
    assert photo.alt_text == "Laksa"
    assert re.fullmatch(r"photos/[0-9a-f]{32}\.jpg", photo.storage_key)
    assert re.fullmatch(r"thumbs/[0-9a-f]{32}\.webp", photo.thumbnail_key)
    original = stored_bytes(photo.storage_key)
    assert hashlib.sha256(original).hexdigest() == photo.sha256
    assert len(original) == photo.byte_size
    assert stored_content_type(photo.storage_key) == photo.content_type == "image/jpeg"
    image = Image.open(io.BytesIO(original))
    assert image.size == (photo.width, photo.height) == (1200, 1600)
    assert len(image.getexif()) == 0
    assert stored_content_type(photo.thumbnail_key) == "image/webp"
    assert Image.open(io.BytesIO(stored_bytes(photo.thumbnail_key))).size == (360, 480)


def test_the_content_decides_not_the_filename_or_the_browser(uploader):
    disguised = make_upload(images.HTML, filename="dish.jpg", content_type="image/jpeg")
    with pytest.raises(PhotoRejected, match="web page code"):
        save_upload(disguised, uploader_id=uploader.id)

    png_named_as_text = make_upload(
        images.alpha_png(), filename="menu.txt", content_type="text/plain"
    )
    photo = save_upload(png_named_as_text, uploader_id=uploader.id)
    assert photo.content_type == "image/png"
    assert photo.storage_key.endswith(".png")


def test_a_refused_upload_writes_nothing(uploader, monkeypatch):
    puts = spy_on_puts(monkeypatch)
    before = photo_count()
    with pytest.raises(PhotoRejected):
        save_upload(make_upload(images.gif(), filename="a.gif"), uploader_id=uploader.id)
    assert puts == []
    assert photo_count() == before
    assert not db.session.new


class EndlessStream(io.RawIOBase):
    """A client that never stops sending; counts what the server reads."""

    def __init__(self) -> None:
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        size = min(len(buffer), 1000)  # short reads, as a socket gives them
        buffer[:size] = b"\xff" * size
        self.bytes_read += size
        return size


def test_save_upload_reads_no_more_than_one_byte_past_the_limit(app, uploader, monkeypatch):
    monkeypatch.setitem(app.config, "PHOTO_MAX_BYTES", 50_000)
    stream = EndlessStream()
    with pytest.raises(PhotoRejected, match="over"):
        save_upload(FileStorage(stream, filename="endless.jpg"), uploader_id=uploader.id)
    assert stream.bytes_read == 50_001


def test_s3_down_raises_storage_unavailable_and_leaves_no_row(uploader, s3_down):
    before = photo_count()
    with pytest.raises(PhotoStorageUnavailable, match="uploads are unavailable right now"):
        save_upload(make_upload(images.plain_jpeg()), uploader_id=uploader.id)
    assert photo_count() == before
    assert not db.session.new


def test_a_failed_thumbnail_put_removes_the_original_already_stored(uploader, monkeypatch):
    puts = spy_on_puts(monkeypatch, fail_on_call=2)
    with pytest.raises(PhotoStorageUnavailable):
        save_upload(make_upload(images.plain_jpeg()), uploader_id=uploader.id)
    original_key, thumbnail_key = puts
    for key in (original_key, thumbnail_key):
        with pytest.raises(storage.ObjectMissing):
            storage.get_object(key)
    assert not db.session.new


def test_a_row_the_database_refuses_takes_its_objects_with_it(db_session, monkeypatch):
    puts = spy_on_puts(monkeypatch)
    with pytest.raises(IntegrityError):
        save_upload(make_upload(images.plain_jpeg()), uploader_id=2**40)  # no such user
    db_session.rollback()
    assert len(puts) == 2
    for key in puts:
        with pytest.raises(storage.ObjectMissing):
            storage.get_object(key)


def test_delete_photo_removes_the_row_now_and_the_objects_on_commit(db_session, uploader):
    photo = save_upload(make_upload(images.plain_jpeg()), uploader_id=uploader.id)
    db_session.commit()
    photo_id, keys = photo.id, (photo.storage_key, photo.thumbnail_key)

    delete_photo(photo)

    assert db_session.get(Photo, photo_id) is None
    assert all(stored_bytes(key) for key in keys)  # a rollback could still bring the row back
    db_session.commit()
    for key in keys:
        with pytest.raises(storage.ObjectMissing):
            storage.get_object(key)


def test_a_rolled_back_delete_keeps_the_objects(db_session, uploader):
    photo = save_upload(make_upload(images.plain_jpeg()), uploader_id=uploader.id)
    db_session.commit()
    photo_id, keys = photo.id, (photo.storage_key, photo.thumbnail_key)

    delete_photo(photo)
    db_session.rollback()
    db_session.commit()  # a later commit must not delete what the rollback kept

    assert db_session.get(Photo, photo_id) is not None
    assert all(stored_bytes(key) for key in keys)


def test_s3_failing_during_delete_is_logged_not_raised(
    app, db_session, uploader, monkeypatch, caplog
):
    photo = save_upload(make_upload(images.plain_jpeg()), uploader_id=uploader.id)
    db_session.commit()
    switch_off_s3(monkeypatch, app)

    delete_photo(photo)
    with caplog.at_level(logging.ERROR, logger=services.__name__):
        db_session.commit()

    assert db_session.get(Photo, photo.id) is None
    assert "could not delete photo objects" in caplog.text
    assert photo.storage_key in caplog.text


@pytest.mark.parametrize(
    ("upload", "empty"),
    [
        (None, True),
        (FileStorage(), True),
        (FileStorage(io.BytesIO(b""), filename="", content_type="application/octet-stream"), True),
        (FileStorage(io.BytesIO(b""), filename="   "), True),
        (FileStorage(io.BytesIO(b""), filename="empty.jpg"), False),
        (FileStorage(io.BytesIO(b"x"), filename="lunch.jpg"), False),
    ],
    ids=["none", "no-file-field", "nothing-chosen", "blank-name", "empty-file", "a-file"],
)
def test_is_empty_upload(upload, empty):
    assert is_empty_upload(upload) is empty


def test_an_upload_past_the_uploaders_quota_is_refused_and_writes_nothing(
    app, uploader, monkeypatch
):
    """ASVS 12.1.3: what one diner's photos take in all is bounded (PHOTO_QUOTA_BYTES)."""
    first = save_upload(make_upload(images.plain_jpeg()), uploader_id=uploader.id)
    monkeypatch.setitem(app.config, "PHOTO_QUOTA_BYTES", first.byte_size + 10)
    puts = spy_on_puts(monkeypatch)
    before = photo_count()
    with pytest.raises(PhotoRejected, match=r"photo space\. Delete some of your photos"):
        save_upload(make_upload(images.plain_jpeg()), uploader_id=uploader.id)
    assert puts == []
    assert photo_count() == before
    other = UserFactory()  # the quota is each diner's own
    assert save_upload(make_upload(images.plain_jpeg()), uploader_id=other.id).id is not None
    delete_photo(first)  # space freed is space to use again
    assert save_upload(make_upload(images.plain_jpeg()), uploader_id=uploader.id).id is not None
