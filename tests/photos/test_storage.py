"""The S3 door: a lazy client per app, the bucket made on demand, ``flask photos ensure-bucket``."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from bellyfed.photos import storage
from tests.conftest import make_test_app


def bucket_location(name: str) -> str | None:
    return storage.get_client().get_bucket_location(Bucket=name)["LocationConstraint"]


def test_the_client_is_built_on_first_use_per_app_with_short_timeouts(database_url, aws_endpoint):
    app = make_test_app(database_url, aws_endpoint)
    assert storage.CLIENT_KEY not in app.extensions
    with app.app_context():
        client = storage.get_client()
        assert storage.get_client() is client
    assert app.extensions[storage.CLIENT_KEY] is client
    assert client.meta.endpoint_url == aws_endpoint
    assert client.meta.region_name == app.config["AWS_REGION"]
    assert (client.meta.config.connect_timeout, client.meta.config.read_timeout) == (2, 5)
    assert client.meta.config.retries["total_max_attempts"] == 2  # one retry, then give up


@pytest.mark.parametrize(("region", "location"), [("eu-west-1", "eu-west-1"), ("us-east-1", None)])
def test_ensure_bucket_creates_once_in_the_configured_region(
    app, fresh_bucket, monkeypatch, region, location
):
    monkeypatch.setitem(app.config, "AWS_REGION", region)
    with app.app_context():
        assert storage.ensure_bucket() is True
        assert storage.ensure_bucket() is False
        assert bucket_location(fresh_bucket) == location


def test_outside_production_the_first_write_makes_the_bucket(app, fresh_bucket):
    with app.app_context():
        storage.put_object("photos/first.jpg", b"bytes", "image/jpeg")
        body, content_type = storage.get_object("photos/first.jpg")
        assert (body.read(), content_type) == (b"bytes", "image/jpeg")


def test_production_never_creates_buckets_on_the_fly(app, fresh_bucket, monkeypatch):
    monkeypatch.setitem(app.config, "BELLYFED_ENV", "production")
    with app.app_context():
        with pytest.raises(storage.PhotoStorageUnavailable, match="unavailable right now"):
            storage.put_object("photos/first.jpg", b"bytes", "image/jpeg")
        with pytest.raises(ClientError, match="Not Found"):
            storage.get_client().head_bucket(Bucket=fresh_bucket)  # still no bucket


def test_missing_keys_and_deletes_of_missing_keys(app):
    with app.app_context():
        storage.put_object("photos/kept.jpg", b"kept", "image/jpeg")
        with pytest.raises(storage.ObjectMissing):
            storage.get_object("photos/never-stored.jpg")
        storage.delete_objects(["photos/never-stored.jpg", "photos/kept.jpg"])
        storage.delete_objects([])
        with pytest.raises(storage.ObjectMissing):
            storage.get_object("photos/kept.jpg")


def test_s3_down_is_reported_as_unavailable_for_every_call(app, s3_down):
    with app.app_context():
        for call in (
            lambda: storage.put_object("photos/x.jpg", b"x", "image/jpeg"),
            lambda: storage.get_object("photos/x.jpg"),
            lambda: storage.delete_objects(["photos/x.jpg"]),
            storage.ensure_bucket,
        ):
            with pytest.raises(storage.PhotoStorageUnavailable):
                call()


def test_cli_ensure_bucket_is_idempotent(app, fresh_bucket):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["photos", "ensure-bucket"])
    second = runner.invoke(args=["photos", "ensure-bucket"])
    assert (first.exit_code, first.output) == (0, f"Created bucket {fresh_bucket!r}.\n")
    assert (second.exit_code, second.output) == (0, f"Bucket {fresh_bucket!r} already exists.\n")


def test_cli_ensure_bucket_fails_clearly_when_s3_is_down(app, s3_down):
    result = app.test_cli_runner().invoke(args=["photos", "ensure-bucket"])
    assert result.exit_code == 1
    assert "Cannot reach S3" in result.output
