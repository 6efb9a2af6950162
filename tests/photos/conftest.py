"""Photo fixtures: uploads as the browser sends them, a fresh bucket, S3 switched off, a private
clamd to scan them (tests/photos/clamd.py)."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator

import pytest
from flask import Flask
from werkzeug.datastructures import FileStorage

from bellyfed.photos import storage
from tests.conftest import free_port
from tests.factories import UserFactory
from tests.photos.clamd import PrivateClamd


def make_upload(data: bytes, filename: str = "lunch.jpg", content_type: str = "image/jpeg"):
    """A file field as Werkzeug parses it from a multipart form."""
    return FileStorage(io.BytesIO(data), filename=filename, content_type=content_type)


def stored_bytes(key: str) -> bytes:
    body, _ = storage.get_object(key)
    with body:
        return body.read()


def stored_content_type(key: str) -> str:
    body, content_type = storage.get_object(key)
    body.close()
    return content_type


def forget_client(monkeypatch: pytest.MonkeyPatch, app: Flask) -> None:
    """Make the next S3 call build its client (and check its bucket) afresh from app.config."""
    # setitem, not delitem: undo must also drop what the test builds when nothing was cached.
    for key in (storage.CLIENT_KEY, storage.BUCKET_READY_KEY):
        monkeypatch.setitem(app.extensions, key, None)


@pytest.fixture
def uploader(db_session):
    return UserFactory()


def switch_off_s3(monkeypatch: pytest.MonkeyPatch, app: Flask) -> None:
    """Point S3 at a port nobody listens on: connections are refused at once."""
    monkeypatch.setitem(app.config, "AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{free_port()}")
    forget_client(monkeypatch, app)


@pytest.fixture
def s3_down(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    switch_off_s3(monkeypatch, app)


@pytest.fixture
def fresh_bucket(app: Flask, monkeypatch: pytest.MonkeyPatch) -> str:
    """A bucket name nothing has created yet (moto's buckets outlive a test)."""
    name = f"bellyfed-test-{uuid.uuid4().hex[:12]}"
    monkeypatch.setitem(app.config, "PHOTO_BUCKET", name)
    forget_client(monkeypatch, app)
    return name


@pytest.fixture(scope="session")
def clamd() -> Iterator[PrivateClamd]:
    """One private clamd for the run (it starts in a fraction of a second)."""
    server = PrivateClamd().start()
    yield server
    server.close()


@pytest.fixture
def scanning(app: Flask, clamd: PrivateClamd, monkeypatch: pytest.MonkeyPatch) -> PrivateClamd:
    """Uploads are scanned by the private clamd, as production scans them."""
    monkeypatch.setitem(app.config, "CLAMD_ADDRESS", clamd.address)
    return clamd
