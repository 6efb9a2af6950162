"""Avatars on the account page, through the photos service (moto's S3 in tests)."""

import io

from PIL import Image
from sqlalchemy import select

from bellyfed.photos.models import Photo
from bellyfed.photos.storage import PhotoStorageUnavailable
from tests.accounts.support import save_settings
from tests.web import text

MULTIPART = {"content_type": "multipart/form-data"}


def png(size=(64, 64)) -> io.BytesIO:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 80, 20)).save(buffer, "PNG")
    buffer.seek(0)
    return buffer


def test_uploading_an_avatar(client, db_session, diner):
    response = save_settings(
        client,
        "profile",
        {"display_name": "Siti", "avatar": (png(), "me.png")},
        **MULTIPART,
    )

    assert response.status_code == 302
    db_session.refresh(diner)
    photo = db_session.get(Photo, diner.avatar_photo_id)
    assert photo.uploader_id == diner.id
    thumbnail = f"/photos/{photo.id}/thumb"
    assert thumbnail in text(client.get("/account"))
    assert thumbnail in text(client.get("/users/siti"))
    assert client.get(thumbnail).content_type.startswith("image/")


def test_replacing_and_removing_the_avatar_deletes_the_old_photo(client, db_session, diner):
    save_settings(
        client, "profile", {"display_name": "Siti", "avatar": (png(), "a.png")}, **MULTIPART
    )
    db_session.refresh(diner)
    first = diner.avatar_photo_id
    save_settings(
        client, "profile", {"display_name": "Siti", "avatar": (png((80, 80)), "b.png")}, **MULTIPART
    )
    db_session.refresh(diner)
    second = diner.avatar_photo_id
    assert second != first
    assert db_session.scalar(select(Photo.id).where(Photo.id == first)) is None

    save_settings(client, "profile", {"display_name": "Siti", "remove_avatar": "y"})

    db_session.refresh(diner)
    assert diner.avatar_photo_id is None
    assert db_session.scalar(select(Photo.id).where(Photo.id == second)) is None


def test_a_file_that_is_not_a_photo_is_explained(client, db_session, diner):
    response = save_settings(
        client,
        "profile",
        {"display_name": "New Name", "avatar": (io.BytesIO(b"not a photo at all"), "me.png")},
        **MULTIPART,
    )

    assert response.status_code == 200
    assert "That file isn&#39;t a photo we can use." in text(response)
    assert 'id="profile-avatar-error"' in text(response)
    db_session.refresh(diner)
    assert (diner.display_name, diner.avatar_photo_id) == ("Siti", None)


def test_photo_storage_being_down_is_explained(client, db_session, diner, monkeypatch):
    def unavailable(*args, **kwargs):
        raise PhotoStorageUnavailable()

    monkeypatch.setattr("bellyfed.photos.storage.put_object", unavailable)
    response = save_settings(
        client,
        "profile",
        {"display_name": "New Name", "avatar": (png(), "me.png")},
        **MULTIPART,
    )

    assert response.status_code == 200
    assert "Photo uploads are unavailable right now." in text(response)
    db_session.refresh(diner)
    assert diner.display_name == "Siti"
