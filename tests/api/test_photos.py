"""POST /api/v1/me/photos: a diner's upload, checked and stored as the website's uploads are."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from bellyfed.api.photos import MAX_ALT_TEXT, NO_FILE
from bellyfed.photos.models import Photo
from tests.api.conftest import problem
from tests.factories import UserFactory
from tests.photos.conftest import stored_bytes, switch_off_s3
from tests.photos.images import HTML, phone_jpeg, plain_jpeg

URL = "/api/v1/me/photos"


@pytest.fixture
def diner(db_session):
    return UserFactory()


@pytest.fixture
def auth(diner, token_for):
    return token_for(diner)


def jpeg(name: str = "laksa.jpg", size: tuple[int, int] = (400, 300)) -> tuple[io.BytesIO, str]:
    return io.BytesIO(plain_jpeg(size)), name


def upload(api, headers, **parts):
    data = {"photo": jpeg(), **parts}
    return api.post(URL, data=data, headers=headers, content_type="multipart/form-data")


def photo_count(db_session) -> int:
    return db_session.scalar(select(func.count()).select_from(Photo))


def test_upload_a_photo(api, db_session, diner, auth):
    response = upload(api, auth, alt_text="  Curry laksa, from above ")

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body == {
        "id": body["id"],
        "url": f"http://localhost/photos/{body['id']}",
        "thumbnail_url": f"http://localhost/photos/{body['id']}/thumb",
        "width": 400,
        "height": 300,
        "alt_text": "Curry laksa, from above",
    }
    assert response.headers["Location"] == body["url"]
    stored = db_session.get(Photo, body["id"])
    assert (stored.uploader_id, stored.review_id, stored.content_type) == (
        diner.id,
        None,
        "image/jpeg",
    )
    served = api.get(body["url"])
    assert (served.status_code, served.content_type) == (200, "image/jpeg")
    thumb = api.get(body["thumbnail_url"])
    assert (thumb.status_code, thumb.content_type) == (200, "image/webp")


def test_the_upload_is_cleaned_as_on_the_website(api, db_session, auth):
    response = upload(api, auth, photo=(io.BytesIO(phone_jpeg((200, 100))), "IMG_0001.JPG"))
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["width"], body["height"], body["alt_text"]) == (100, 200, "")  # turned upright
    kept = stored_bytes(db_session.get(Photo, body["id"]).storage_key)
    assert b"PhoneCo" not in kept
    assert b"shot at home" not in kept


def test_no_token_is_401_and_nothing_is_stored(api, db_session):
    for headers in ({}, {"Authorization": "Bearer bf_not-a-real-token"}, {"Cookie": "x=1"}):
        response = upload(api, headers)
        assert response.status_code == 401, headers
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        problem(response)
    assert photo_count(db_session) == 0


@pytest.mark.parametrize(
    ("photo", "detail"),
    [
        ((io.BytesIO(b"GIF89a not really"), "cat.jpg"), "JPEG, PNG or WebP"),
        ((io.BytesIO(b"just some text"), "notes.txt"), "JPEG, PNG or WebP"),
        ((io.BytesIO(HTML), "page.jpg"), "web page code"),
        ((io.BytesIO(plain_jpeg()[:300]), "cut.jpg"), "damaged or incomplete"),
        ((io.BytesIO(b""), "empty.jpg"), "empty"),
        ((io.BytesIO(b""), ""), NO_FILE),
    ],
)
def test_what_isnt_a_usable_photo_is_422_with_the_reason(api, db_session, auth, photo, detail):
    response = upload(api, auth, photo=photo)
    assert response.status_code == 422
    assert detail in problem(response)["detail"]
    assert photo_count(db_session) == 0


def test_a_photo_over_the_photo_limit_is_422(api, app, db_session, auth):
    big = (io.BytesIO(b"\xff" * (app.config["PHOTO_MAX_BYTES"] + 1)), "big.jpg")
    response = upload(api, auth, photo=big)
    assert response.status_code == 422
    assert "MB" in problem(response)["detail"]
    assert photo_count(db_session) == 0


def test_a_body_over_the_request_limit_is_413(api, app, db_session, auth, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 10_000)
    response = upload(api, auth, photo=(io.BytesIO(b"\xff" * 20_000), "huge.jpg"))
    assert response.status_code == 413
    assert "too large" in problem(response)["detail"]
    assert photo_count(db_session) == 0


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"json": {"photo": "x"}}, "photo"),
        ({"data": {"photo": "not a file"}, "content_type": "multipart/form-data"}, "photo"),
        ({"data": {"alt_text": "x"}, "content_type": "multipart/form-data"}, "photo"),
        ({"data": "photo=x", "content_type": "application/x-www-form-urlencoded"}, "photo"),
        ({}, "photo"),
    ],
)
def test_a_body_without_a_file_part_is_422(api, db_session, auth, kwargs, field):
    response = api.post(URL, headers=auth, **kwargs)
    assert response.status_code == 422
    assert field in problem(response)["errors"]
    assert photo_count(db_session) == 0


@pytest.mark.parametrize(
    ("parts", "field"),
    [
        ({"alt_text": "x" * (MAX_ALT_TEXT + 1)}, "alt_text"),
        ({"caption": "Unknown field"}, "caption"),
    ],
)
def test_bad_form_fields_are_422_with_the_field_named(api, db_session, auth, parts, field):
    response = upload(api, auth, **parts)
    assert response.status_code == 422
    assert field in problem(response)["errors"]
    assert photo_count(db_session) == 0


def test_a_nul_character_in_a_form_field_is_refused_by_the_app_with_400(api, db_session, auth):
    response = upload(api, auth, alt_text="bad\x00byte")
    assert response.status_code == 400
    assert "NUL" in problem(response)["detail"]
    assert photo_count(db_session) == 0


def test_storage_down_is_503_and_nothing_is_kept(api, app, db_session, auth, monkeypatch):
    switch_off_s3(monkeypatch, app)
    response = upload(api, auth)
    assert response.status_code == 503
    assert "unavailable" in problem(response)["detail"]
    assert photo_count(db_session) == 0


def test_the_document_describes_the_upload_as_a_multipart_form(api):
    spec = api.get("/api/v1/openapi.json").get_json()
    operation = spec["paths"][URL]["post"]
    assert operation["security"] == [{"bearerAuth": []}]
    schema = operation["requestBody"]["content"]["multipart/form-data"]["schema"]
    form = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    assert (form["properties"]["photo"]["type"], form["properties"]["photo"]["format"]) == (
        "string",
        "binary",
    )
    assert form["properties"]["alt_text"]["maxLength"] == MAX_ALT_TEXT
    assert form["required"] == ["photo"]
    assert {"201", "400", "401", "413", "422", "429", "503"} <= set(operation["responses"])
