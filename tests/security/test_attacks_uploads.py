"""Oversized and disguised uploads through every upload route, HTML and API: web pages, SVG,
JPEG/HTML polyglots, a GIFAR, PHP and PDF named as photos, decompression bombs, too many pixels,
too many bytes, the EICAR test virus alone and behind a real JPEG. Each is refused with a message
saying why (4xx, or the form shown again), and nothing is stored: no Photo row, no S3 object.
Every upload goes through a private clamd (tests/photos/clamd.py), as in production; with clamd
stopped every route pauses uploads (the form again, its text kept; a 503 from the API).

The routes are found, not listed: every form with a file input on any page, and every operation
of the OpenAPI document that takes multipart/form-data, must be in ``UPLOADS`` (else the first
test fails).
"""

from __future__ import annotations

import html
import io
import re
import zipfile
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from botocore.exceptions import ClientError

from bellyfed.accounts import tokens as api_tokens
from bellyfed.extensions import db
from bellyfed.photos import storage
from bellyfed.photos.models import Photo
from bellyfed.photos.processing import HAS_MARKUP
from bellyfed.photos.scan import INFECTED, PAUSED
from tests.photos.clamd import EICAR, PrivateClamd
from tests.photos.images import (
    HTML,
    SVG,
    animated,
    gif,
    plain_jpeg,
    png_header,
    polyglot_jpeg_comment,
    polyglot_jpeg_trailer,
    truncated_jpeg,
)
from tests.security.conftest import COUNTS, forms_on, html_rules, route_url
from tests.security.test_headers import check_headers
from tests.web import BrowserClient, csrf_token


def _zip(name: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, data)
    return buffer.getvalue()


JAR = _zip("Evil.class", b"\xca\xfe\xba\xbe" + b"\0" * 64)
# (file name, content type, bytes, what the refusal says)
HOSTILE = {
    "html as jpeg": ("lunch.jpg", "image/jpeg", HTML, HAS_MARKUP),
    "svg with script": ("lunch.svg", "image/svg+xml", SVG, HAS_MARKUP),
    "svg named png": ("lunch.png", "image/png", SVG, HAS_MARKUP),
    "svg without script": ("a.png", "image/png", SVG.replace(b"<script>alert(1)</script>", b""),
                           "isn't a photo"),
    "jpeg/html polyglot (comment)": ("a.jpg", "image/jpeg", polyglot_jpeg_comment(), HAS_MARKUP),
    "jpeg/html polyglot (trailer)": ("a.jpg", "image/jpeg", polyglot_jpeg_trailer(), HAS_MARKUP),
    "gifar (gif + jar)": ("a.gif", "image/gif", gif() + JAR, "isn't a photo"),
    "php as jpeg": ("shell.jpg", "image/jpeg", b"<?php system($_GET['c']); ?>", "isn't a photo"),
    "pdf as png": ("doc.png", "image/png", b"%PDF-1.4\n1 0 obj<<>>endobj\n%%EOF", "isn't a photo"),
    "elf as webp": ("a.webp", "image/webp", b"\x7fELF\x02\x01\x01" + b"\0" * 64, "isn't a photo"),
    "decompression bomb 50k x 50k": ("b.png", "image/png", png_header(50_000, 50_000),
                                     "too many pixels"),
    "over the pixel limit 8000 x 6000": ("p.png", "image/png", png_header(8000, 6000),
                                         "too many pixels"),
    "animated png": ("a.png", "image/png", animated("PNG"), "Animated"),
    "truncated jpeg": ("t.jpg", "image/jpeg", truncated_jpeg(), "damaged"),
    "empty file": ("e.jpg", "image/jpeg", b"", "empty"),
    "over the byte limit": ("big.jpg", "image/jpeg", "BIG", "smaller one"),
    "eicar test virus as jpeg": ("eicar.jpg", "image/jpeg", EICAR, INFECTED),
    "eicar behind a real jpeg": ("a.jpg", "image/jpeg", plain_jpeg((64, 64)) + EICAR, INFECTED),
}  # fmt: skip
PHOTO_MAX_BYTES = 64 * 1024  # lowered for the test, so "too big" costs kilobytes, not megabytes


def _file(name: str, content_type: str, data: bytes) -> tuple[io.BytesIO, str, str]:
    return io.BytesIO(data), name, content_type


def _big() -> bytes:
    data = plain_jpeg((64, 64))
    return data + b"\0" * (PHOTO_MAX_BYTES + 1 - len(data))


# Each upload route: how to send one file through it as its owner would.
def _profile(s: dict, upload: tuple) -> Any:
    client = s["alice"]
    return client.post("/account", data={
        "section": "profile", "profile-csrf_token": csrf_token(client, "/account"),
        "profile-display_name": "Alice", "profile-bio": "", "profile-home_city_id": "",
        "profile-avatar": upload,
    })  # fmt: skip


def _review_new(s: dict, upload: tuple) -> Any:
    client, w = s["alice"], s["world"]
    return client.post(f"/restaurants/{w.restaurant.slug}/reviews/new", data={
        "csrf_token": csrf_token(client, "/account"), "rating": "4", "body": "Good.",
        "dish_id": "", "new_photos": [upload],
    })  # fmt: skip


def _review_edit(s: dict, upload: tuple) -> Any:
    client, w = s["alice"], s["world"]
    return client.post(f"/reviews/{w.review.id}/edit", data={
        "csrf_token": csrf_token(client, "/account"), "rating": "4", "body": "Good.",
        "dish_id": "", "new_photos": [upload],
    })  # fmt: skip


def _rank(s: dict, upload: tuple) -> Any:
    client, w = s["bob"], s["world"]  # Bob has no photo on this dish yet: the upload is needed
    return client.post(f"/dishes/{w.dish.id}/ranking", data={
        "csrf_token": csrf_token(client, "/account"), "choice": "1", "notes": "Best one.",
        "photo": upload, "next": "",
    })  # fmt: skip


def _api_photo(s: dict, upload: tuple) -> Any:
    return s["api"].post("/api/v1/me/photos", data={"photo": upload, "alt_text": "x"},
                         headers=s["alice_api"])  # fmt: skip


def _api_review_photo(s: dict, upload: tuple) -> Any:
    return s["api"].post(f"/api/v1/reviews/{s['world'].review.id}/photos",
                         data={"photo": upload}, headers=s["alice_api"])  # fmt: skip


UPLOADS: dict[str, Callable[[dict, tuple], Any]] = {
    "POST /account [profile-avatar]": _profile,
    "POST /restaurants/<slug>/reviews/new [new_photos]": _review_new,
    "POST /reviews/<int:review_id>/edit [new_photos]": _review_edit,
    "POST /dishes/<int:dish_id>/ranking [photo]": _rank,
    "POST /api/v1/me/photos": _api_photo,
    "POST /api/v1/reviews/{review_id}/photos": _api_review_photo,
}


@pytest.fixture(scope="module")
def clamd() -> Iterator[PrivateClamd]:
    server = PrivateClamd().start()
    yield server
    server.close()


@pytest.fixture
def scene(app, world, new_browser, monkeypatch, clamd) -> dict:
    monkeypatch.setitem(app.config, "PHOTO_MAX_BYTES", PHOTO_MAX_BYTES)
    monkeypatch.setitem(app.config, "CLAMD_ADDRESS", clamd.address)
    with app.app_context():
        secret, _ = api_tokens.create(world.alice, "uploads", 30)
    return {
        "world": world, "alice": new_browser(world.alice), "bob": new_browser(world.bob),
        "api": BrowserClient(app, app.response_class, use_cookies=False),
        "alice_api": {"Authorization": f"Bearer {secret}"},
    }  # fmt: skip


def _stored_keys(app) -> set[str]:
    with app.app_context():
        try:
            pages = (
                storage.get_client()
                .get_paginator("list_objects_v2")
                .paginate(Bucket=storage.bucket_name())
            )
            return {item["Key"] for page in pages for item in page.get("Contents", [])}
        except ClientError:
            return set()  # no bucket yet: nothing stored


def _photo_rows() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Photo))


def test_every_upload_route_is_attacked(app, world, new_browser):
    """File inputs on any page, and multipart operations of the API, are all in UPLOADS."""
    found = set()
    client = new_browser(world.alice)
    for rule in html_rules(app):
        if "GET" not in (rule.methods or ()):
            continue
        url = route_url(rule, world)
        page = client.get(url)
        if page.mimetype != "text/html":
            continue
        for form in forms_on(page, url):
            if form.method != "POST" or not form.file_fields:
                continue
            path = urlsplit(form.action).path
            adapter = app.url_map.bind("localhost")
            endpoint_rule = adapter.match(path, method="POST", return_rule=True)[0]
            found |= {f"POST {endpoint_rule.rule} [{name}]" for name in form.file_fields}
    spec = client.get("/api/v1/openapi.json").get_json()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {}) if isinstance(
                operation, dict) else {}  # fmt: skip
            if "multipart/form-data" in content:
                found.add(f"{method.upper()} {path}")
    assert found == set(UPLOADS), found ^ set(UPLOADS)


@pytest.mark.parametrize("route", sorted(UPLOADS))
def test_hostile_files_are_refused_with_a_reason_and_nothing_is_stored(app, scene, route):
    send = UPLOADS[route]
    problems = []
    rows, keys = _photo_rows(), _stored_keys(app)
    for label, (name, content_type, data, reason) in HOSTILE.items():
        data = _big() if data == "BIG" else data
        response = send(scene, _file(name, content_type, data))
        COUNTS["uploads: hostile files sent"] += 1
        body = html.unescape(response.get_data(as_text=True))
        if response.status_code not in (200, 413, 422) or reason.lower() not in body.lower():
            problems.append(f"{label}: {response.status_code} {body[:200]!r}")
    assert not problems, "\n".join(problems)
    db.session.expire_all()
    assert _photo_rows() == rows
    assert _stored_keys(app) == keys


@pytest.mark.parametrize("route", ["POST /account [profile-avatar]", "POST /api/v1/me/photos"])
def test_a_request_over_the_size_limit_is_a_clear_413(app, scene, monkeypatch, route):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 256 * 1024)
    rows = _photo_rows()
    response = UPLOADS[route](scene, _file("huge.jpg", "image/jpeg", b"\xff" * 300 * 1024))
    COUNTS["uploads: hostile files sent"] += 1
    assert response.status_code == 413
    assert "too large" in response.get_data(as_text=True)
    assert _photo_rows() == rows


def test_what_rides_behind_a_real_photo_is_never_stored(app, scene):
    """A JPEG with a JAR appended, named like a path-traversing JSP, is a photo: it is kept,
    re-encoded, without the archive, under a key of our own."""
    upload = _file("../../etc/passwd.jsp", "image/jpeg", plain_jpeg((64, 64)) + JAR)
    response = _api_photo(scene, upload)
    COUNTS["uploads: hostile files sent"] += 1
    assert response.status_code == 201, response.get_data(as_text=True)
    photo = db.session.get(Photo, response.get_json()["id"])
    with app.app_context():
        body, content_type = storage.get_object(photo.storage_key)
        with body:
            stored = body.read()
    assert content_type == "image/jpeg"
    # The name the client sent is never used: keys are random, the extension is the content's.
    assert re.fullmatch(r"photos/[0-9a-f]{32}\.jpg", photo.storage_key), photo.storage_key
    assert b"PK\x03\x04" not in stored
    assert b"Evil.class" not in stored
    served = scene["alice"].get(f"/photos/{photo.id}")
    assert served.status_code == 200
    assert served.headers["Content-Security-Policy"].startswith("default-src 'none'; sandbox")
    assert check_headers(served, "a photo") == []  # and the site's framing policy beside it


# What each form route's helper types, as the form shown again must still hold it.
TYPED = {
    "POST /account [profile-avatar]": r'name="profile-display_name"[^>]*value="Alice"',
    "POST /restaurants/<slug>/reviews/new [new_photos]": r'name="body"[^>]*>\s*Good\.</textarea>',
    "POST /reviews/<int:review_id>/edit [new_photos]": r'name="body"[^>]*>\s*Good\.</textarea>',
    "POST /dishes/<int:dish_id>/ranking [photo]": r'name="notes"[^>]*>\s*Best one\.</textarea>',
}


@pytest.mark.parametrize("route", sorted(UPLOADS))
def test_with_the_virus_scanner_down_uploads_pause_and_nothing_is_stored(
    app, scene, monkeypatch, route
):
    """Fail closed: clamd stopped, a clean photo is refused with a clear "paused" (a 503 from the
    API; the form again with what was typed kept), never a 500, and nothing is stored."""
    stopped = PrivateClamd().start()
    stopped.stop()
    monkeypatch.setitem(app.config, "CLAMD_ADDRESS", stopped.address)
    rows, keys = _photo_rows(), _stored_keys(app)
    try:
        response = UPLOADS[route](scene, _file("lunch.jpg", "image/jpeg", plain_jpeg((64, 64))))
    finally:
        stopped.close()
    COUNTS["uploads: sent with the virus scanner down"] += 1
    body = html.unescape(response.get_data(as_text=True))
    if route.startswith("POST /api/"):
        assert response.status_code == 503, body[:300]
    else:  # the form again (the settings page answers 200, the others 422), what was typed kept
        assert response.status_code in (200, 422), body[:300]
        assert re.search(TYPED[route], body), f"{route}: the text typed is not kept"
    assert PAUSED in body
    db.session.expire_all()
    assert _photo_rows() == rows
    assert _stored_keys(app) == keys
