"""GET /photos/<id> and /photos/<id>/thumb: the right bytes, always as images, never a 500."""

from __future__ import annotations

import hashlib
import io
import re

import pytest
from flask import render_template
from PIL import Image

from bellyfed.photos import storage
from bellyfed.photos.services import save_upload
from tests.factories import PhotoFactory
from tests.photos import images
from tests.photos.conftest import make_upload, stored_bytes

PHOTO_CSP = "default-src 'none'; sandbox"
# Every photo these tests store has passed the private clamd, as in production.
pytestmark = pytest.mark.usefixtures("scanning")


@pytest.fixture
def jpeg_photo(db_session, uploader):
    photo = save_upload(make_upload(images.plain_jpeg((1200, 900))), uploader_id=uploader.id)
    db_session.commit()
    return photo


def assert_served_as_image(response, content_type: str) -> None:
    assert response.status_code == 200
    assert response.mimetype == content_type
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"] == PHOTO_CSP
    assert response.headers["Content-Disposition"].startswith("inline;")
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"


def test_show_streams_the_stored_bytes_with_safe_headers(client, jpeg_photo):
    response = client.get(f"/photos/{jpeg_photo.id}")

    assert_served_as_image(response, "image/jpeg")
    assert response.data == stored_bytes(jpeg_photo.storage_key)
    assert hashlib.sha256(response.data).hexdigest() == jpeg_photo.sha256
    assert response.headers["ETag"] == f'"{jpeg_photo.sha256}"'
    assert (
        response.headers["Content-Disposition"] == f'inline; filename="photo-{jpeg_photo.id}.jpg"'
    )


def test_thumbnail_is_a_small_webp(client, jpeg_photo):
    response = client.get(f"/photos/{jpeg_photo.id}/thumb")

    assert_served_as_image(response, "image/webp")
    assert Image.open(io.BytesIO(response.data)).size == (480, 360)
    assert response.headers["ETag"] == f'"{jpeg_photo.sha256}-thumb"'


def test_png_is_served_as_png(client, db_session, uploader):
    photo = save_upload(make_upload(images.alpha_png(), filename="x.png"), uploader_id=uploader.id)
    db_session.commit()
    assert_served_as_image(client.get(f"/photos/{photo.id}"), "image/png")


def test_a_known_etag_gets_304_without_touching_s3(client, jpeg_photo, s3_down):
    response = client.get(
        f"/photos/{jpeg_photo.id}", headers={"If-None-Match": f'"{jpeg_photo.sha256}"'}
    )
    assert response.status_code == 304
    assert response.data == b""
    assert response.headers["ETag"] == f'"{jpeg_photo.sha256}"'
    assert "immutable" in response.headers["Cache-Control"]


@pytest.mark.parametrize("path", ["/photos/{id}", "/photos/{id}/thumb"])
def test_unknown_photo_is_404(client, path):
    assert client.get(path.format(id=2**40)).status_code == 404


def test_a_row_whose_bytes_are_gone_is_404(client, db_session):
    photo = PhotoFactory(storage_key="photos/lost-in-a-migration.jpg")
    assert client.get(f"/photos/{photo.id}").status_code == 404


@pytest.mark.parametrize("suffix", ["", "/thumb"])
def test_s3_down_is_a_503_with_a_clear_message(client, jpeg_photo, s3_down, suffix):
    response = client.get(f"/photos/{jpeg_photo.id}{suffix}")
    assert response.status_code == 503
    assert response.mimetype == "text/html"
    assert "Photos are unavailable right now" in response.get_data(as_text=True)


def test_hostile_bytes_are_still_served_as_an_inert_image(client, db_session):
    """Defence in depth: even HTML that reached the bucket can never render as a page."""
    photo = PhotoFactory(storage_key="photos/hostile.jpg", content_type="image/jpeg")
    storage.put_object(photo.storage_key, images.HTML, "text/html")

    response = client.get(f"/photos/{photo.id}")

    assert_served_as_image(response, "image/jpeg")
    assert response.data == images.HTML


def test_a_photo_without_a_thumbnail_serves_the_original_as_its_thumbnail(client, db_session):
    photo = PhotoFactory(storage_key="photos/legacy.png", content_type="image/png")
    storage.put_object(photo.storage_key, images.alpha_png(), "image/png")

    response = client.get(f"/photos/{photo.id}/thumb")

    assert_served_as_image(response, "image/png")
    assert response.data == images.alpha_png()


def test_gallery_links_thumbnails_to_full_photos(app, db_session):
    wide = PhotoFactory(width=4000, height=3000, alt_text='Char kway teow <script>"')
    tall = PhotoFactory(width=300, height=600, alt_text="")

    with app.test_request_context():
        html = render_template("photos/_gallery.html", photos=[wide, tall])

    items = re.findall(r'<a class="photo-link" href="([^"]+)">\s*<img ([^>]+)>', html)
    assert [href for href, _ in items] == [f"/photos/{wide.id}", f"/photos/{tall.id}"]
    first, second = (attributes for _, attributes in items)
    assert f'src="/photos/{wide.id}/thumb"' in first
    assert 'width="480" height="360"' in first
    assert 'loading="lazy"' in first
    assert 'alt="Char kway teow &lt;script&gt;&#34;"' in first
    assert 'width="240" height="480"' in second
    assert 'alt="Photo 2 of 2"' in second
    assert "<script" not in html
    assert "style=" not in html


def test_gallery_of_no_photos_renders_nothing(app):
    with app.test_request_context():
        assert render_template("photos/_gallery.html", photos=[]).strip() == ""
