"""The virus scan of uploads (ASVS 12.4.2): our clamd client against a private clamd, and
save_upload refusing what clamd flags, or everything while clamd is away, storing nothing."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from bellyfed.extensions import db
from bellyfed.photos import scan, storage
from bellyfed.photos.models import Photo
from bellyfed.photos.scan import (
    INFECTED,
    PAUSED,
    TOO_BIG_TO_SCAN,
    ClamdError,
    ClamdSizeLimit,
    PhotoInfected,
    ScannerUnavailable,
    scan_stream,
)
from bellyfed.photos.services import PhotoRejected, PhotoStorageUnavailable, save_upload
from tests.conftest import free_port, make_test_app
from tests.photos import images
from tests.photos.clamd import (
    EICAR,
    EICAR_SIGNATURE,
    MARKER,
    MARKER_SIGNATURE,
    STREAM_MAX_BYTES,
    PrivateClamd,
)
from tests.photos.conftest import make_upload

TIMEOUT = 5.0


def test_the_private_clamd_starts_in_a_second_or_two(clamd):
    assert clamd.started_in < 5, clamd.started_in  # measured: about 0.1 s with our signatures
    assert scan.ping(clamd.address, TIMEOUT).startswith("ClamAV ")


@pytest.mark.parametrize("where", ["address", "tcp"], ids=["unix socket", "host:port"])
def test_clean_bytes_pass_and_flagged_bytes_are_named(clamd, where):
    address = getattr(clamd, where)
    assert scan_stream(address, images.plain_jpeg(), TIMEOUT) is None
    assert scan_stream(address, b"", TIMEOUT) is None
    assert scan_stream(address, EICAR, TIMEOUT) in {
        EICAR_SIGNATURE,
        "Bellyfed.Test.EICAR-File.UNOFFICIAL",
    }
    assert scan_stream(address, images.plain_jpeg() + EICAR, TIMEOUT) == EICAR_SIGNATURE
    assert scan_stream(address, b"menu " + MARKER, TIMEOUT) == MARKER_SIGNATURE


def test_a_signature_across_two_chunks_is_found(clamd):
    """The stream is sent in 64 KiB chunks; clamd scans what they add up to."""
    data = b"\0" * (scan.CHUNK_BYTES - len(EICAR) // 2) + EICAR + b"\0" * 1000
    assert scan_stream(clamd.address, data, TIMEOUT) == EICAR_SIGNATURE


def test_clamds_size_limit_is_its_own_error_not_a_clean_verdict(clamd):
    """Past StreamMaxLength clamd stops reading (our sends fail) and says so; we read that."""
    with pytest.raises(ClamdSizeLimit, match="size limit exceeded"):
        scan_stream(clamd.address, b"\0" * (STREAM_MAX_BYTES + 1), TIMEOUT)
    with pytest.raises(ClamdSizeLimit):
        scan_stream(clamd.address, b"\0" * (4 * STREAM_MAX_BYTES), TIMEOUT)
    assert scan_stream(clamd.address, b"\0" * (STREAM_MAX_BYTES - 1024), TIMEOUT) is None


@pytest.fixture
def silent_socket(tmp_path) -> Iterator[str]:
    """A unix socket that takes connections and never answers (a hung clamd)."""
    path = str(tmp_path / "silent.sock")
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(path)
        server.listen(8)
        yield path


def _answering(path: str, reply: bytes) -> threading.Thread:
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    server.listen(1)

    def serve() -> None:
        with server:
            connection, _ = server.accept()
            with connection:
                connection.recv(65536)
                connection.sendall(reply)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


def test_an_unreachable_hung_or_confused_clamd_is_an_error(tmp_path, silent_socket):
    with pytest.raises(ClamdError, match="cannot talk to clamd"):
        scan_stream(str(tmp_path / "no-such.sock"), b"x", TIMEOUT)
    with pytest.raises(ClamdError, match="cannot talk to clamd"):
        scan_stream(f"127.0.0.1:{free_port()}", b"x", TIMEOUT)
    with pytest.raises(ClamdError, match=r"within 0\.3 s"):
        scan_stream(silent_socket, b"x", 0.3)
    confused = str(tmp_path / "confused.sock")
    thread = _answering(confused, b"UNKNOWN COMMAND\0")
    with pytest.raises(ClamdError, match="answered 'UNKNOWN COMMAND'"):
        scan_stream(confused, b"x", TIMEOUT)
    thread.join(5)


class SlowClamd:
    """A unix socket whose reader takes one chunk a second (an overloaded or swapping clamd):
    every single send finishes well within a second, the whole stream never would."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.chunks_read = 0
        self.stopping = threading.Event()
        self.server = socket.socket(socket.AF_UNIX)
        self.server.bind(path)
        self.server.listen(1)
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        with self.server:
            connection, _ = self.server.accept()
            with connection:
                while not self.stopping.is_set():
                    if not connection.recv(scan.CHUNK_BYTES + 4):
                        return
                    self.chunks_read += 1
                    self.stopping.wait(1)

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(5)


@pytest.fixture
def slow_clamd(tmp_path) -> Iterator[SlowClamd]:
    server = SlowClamd(str(tmp_path / "slow.sock"))
    yield server
    server.close()


SLOW_TIMEOUT = 1.5  # more than a chunk's second, so only a deadline for the whole scan trips
SLOW_STREAM = 2 * 1024 * 1024  # 32 chunks: half a minute at clamd's pace, far past any buffer


def test_the_timeout_bounds_the_whole_scan_not_each_chunk(slow_clamd):
    started = time.monotonic()
    with pytest.raises(ClamdError, match=r"did not finish the scan within 1\.5 s"):
        scan_stream(slow_clamd.path, b"\0" * SLOW_STREAM, SLOW_TIMEOUT)
    assert time.monotonic() - started < SLOW_TIMEOUT + 0.5
    assert slow_clamd.chunks_read >= 2  # it was reading: no single send came near the timeout


# --- save_upload with scanning on --------------------------------------------------------------


@pytest.fixture
def puts(monkeypatch) -> list[str]:
    keys: list[str] = []
    real_put = storage.put_object

    def put(key, data, content_type):
        keys.append(key)
        real_put(key, data, content_type)

    monkeypatch.setattr(storage, "put_object", put)
    return keys


def photo_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Photo))


def test_clean_photos_are_stored(scanning, uploader, puts):
    photo = save_upload(make_upload(images.phone_jpeg((800, 600))), uploader_id=uploader.id)
    assert photo.id is not None
    assert len(puts) == 2


@pytest.mark.parametrize(
    ("data", "signature"),
    [
        (EICAR, None),
        (images.plain_jpeg() + EICAR, EICAR_SIGNATURE),
        (images.encode(images.two_tone(), "JPEG", comment=MARKER), MARKER_SIGNATURE),
    ],
    ids=["eicar named as a photo", "eicar behind a real jpeg", "marker in a jpeg comment"],
)
def test_flagged_uploads_are_refused_logged_and_never_stored(
    scanning, uploader, puts, caplog, data, signature
):
    """Even a valid JPEG that re-encoding would have cleaned is refused: clamd has the last word."""
    before = photo_count()
    with (
        caplog.at_level(logging.WARNING, logger=scan.__name__),
        pytest.raises(PhotoInfected, match=INFECTED) as refused,
    ):
        save_upload(make_upload(data), uploader_id=uploader.id)
    assert isinstance(refused.value, PhotoRejected)  # every caller shows it as a form error/422
    assert puts == []
    assert photo_count() == before
    assert not db.session.new
    line = caplog.records[-1].getMessage()
    assert line.startswith("virus scanner flagged an upload, refused: signature=Bellyfed.Test.")
    assert signature is None or f"signature={signature} " in line
    assert f"uploader_id={uploader.id} bytes={len(data)} sha256=" in line


@pytest.fixture
def stopped_clamd() -> Iterator[PrivateClamd]:
    """A clamd of this test's own, started and then stopped (its socket is gone)."""
    server = PrivateClamd().start()
    server.stop()
    yield server
    server.close()


def test_clamd_stopped_pauses_uploads_and_stores_nothing(
    app, uploader, puts, monkeypatch, caplog, stopped_clamd
):
    monkeypatch.setitem(app.config, "CLAMD_ADDRESS", stopped_clamd.address)
    before = photo_count()
    with (
        caplog.at_level(logging.ERROR, logger=scan.__name__),
        pytest.raises(ScannerUnavailable, match="uploads are paused") as paused,
    ):
        save_upload(make_upload(images.plain_jpeg()), uploader_id=uploader.id)
    assert str(paused.value) == PAUSED
    assert isinstance(paused.value, PhotoStorageUnavailable)  # callers answer it as a 503
    assert puts == []
    assert photo_count() == before
    assert (
        f"virus scanner unavailable, upload refused: cannot talk to clamd at {stopped_clamd.address}"
        in caplog.text
    )


def test_a_hung_clamd_pauses_uploads_within_the_timeout(
    app, uploader, puts, monkeypatch, silent_socket
):
    monkeypatch.setitem(app.config, "CLAMD_ADDRESS", silent_socket)
    monkeypatch.setitem(app.config, "CLAMD_TIMEOUT_SECONDS", 0.3)
    with pytest.raises(ScannerUnavailable, match="uploads are paused"):
        save_upload(make_upload(images.plain_jpeg()), uploader_id=uploader.id)
    assert puts == []


def test_a_clamd_too_slow_for_the_whole_upload_pauses_uploads_within_the_timeout(
    app, uploader, puts, monkeypatch, caplog, slow_clamd
):
    monkeypatch.setitem(app.config, "CLAMD_ADDRESS", slow_clamd.path)
    monkeypatch.setitem(app.config, "CLAMD_TIMEOUT_SECONDS", SLOW_TIMEOUT)
    data = images.plain_jpeg() + b"\0" * SLOW_STREAM
    before = photo_count()
    started = time.monotonic()
    with (
        caplog.at_level(logging.ERROR, logger=scan.__name__),
        pytest.raises(ScannerUnavailable, match="uploads are paused"),
    ):
        save_upload(make_upload(data), uploader_id=uploader.id)
    assert time.monotonic() - started < SLOW_TIMEOUT + 0.5
    assert puts == []
    assert photo_count() == before
    assert not db.session.new
    assert (
        f"virus scanner unavailable, upload refused: clamd at {slow_clamd.path} did not finish "
        "the scan within 1.5 s" in caplog.text
    )


def test_an_upload_past_clamds_stream_limit_is_refused_not_passed(
    app, scanning, uploader, puts, monkeypatch, caplog
):
    """PHOTO_MAX_BYTES above clamd's StreamMaxLength is a misconfiguration: refuse, tell ops."""
    monkeypatch.setitem(app.config, "PHOTO_MAX_BYTES", 4 * STREAM_MAX_BYTES)
    data = images.plain_jpeg() + b"\0" * (STREAM_MAX_BYTES + 1)
    with (
        caplog.at_level(logging.ERROR, logger=scan.__name__),
        pytest.raises(PhotoRejected, match=TOO_BIG_TO_SCAN),
    ):
        save_upload(make_upload(data), uploader_id=uploader.id)
    assert puts == []
    assert "raise its StreamMaxLength above PHOTO_MAX_BYTES" in caplog.text


def test_bytes_past_the_photo_limit_are_refused_before_any_scan(
    app, uploader, monkeypatch, silent_socket
):
    """Refused by size alone: the scanner is not even asked (here it would hang)."""
    monkeypatch.setitem(app.config, "CLAMD_ADDRESS", silent_socket)
    monkeypatch.setitem(app.config, "PHOTO_MAX_BYTES", 10_000)
    with pytest.raises(PhotoRejected, match="over"):
        save_upload(make_upload(b"\xff" * 20_000), uploader_id=uploader.id)


def test_an_empty_upload_is_refused_without_asking_clamd(scanning, uploader, puts, monkeypatch):
    def no_scan(*args, **kwargs):
        raise AssertionError("clamd was sent an empty upload")

    monkeypatch.setattr(scan, "scan_stream", no_scan)
    with pytest.raises(PhotoRejected, match="That file is empty"):
        save_upload(make_upload(b""), uploader_id=uploader.id)
    assert puts == []


def test_scanning_off_never_calls_clamd(app, uploader, monkeypatch):
    monkeypatch.setitem(app.config, "CLAMD_ADDRESS", "")

    def no_scan(*args, **kwargs):
        raise AssertionError("clamd was called with scanning off")

    monkeypatch.setattr(scan, "scan_stream", no_scan)
    assert save_upload(make_upload(images.plain_jpeg()), uploader_id=uploader.id).id is not None


def test_the_check_scanner_command_tells_an_operator_where_things_stand(
    app, clamd, monkeypatch, stopped_clamd
):
    runner = app.test_cli_runner()
    monkeypatch.setitem(app.config, "CLAMD_ADDRESS", clamd.address)
    result = runner.invoke(args=["photos", "check-scanner"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"clamd at {clamd.address}: ClamAV ")
    monkeypatch.setitem(app.config, "CLAMD_ADDRESS", stopped_clamd.address)
    result = runner.invoke(args=["photos", "check-scanner"])
    assert result.exit_code == 1
    assert "cannot talk to clamd" in result.output
    assert "uploads are paused until it answers" in result.output
    monkeypatch.setitem(app.config, "CLAMD_ADDRESS", "")
    result = runner.invoke(args=["photos", "check-scanner"])
    assert result.exit_code == 1
    assert "CLAMD_ADDRESS is off" in result.output


STARTUP_WARNING = (
    "CLAMD_ADDRESS is off: uploads are stored without a virus scan (ASVS 12.4.2 not met)"
)


@pytest.mark.parametrize(
    ("environment", "address", "warned"),
    [
        ("production", "", True),
        ("production", "/run/clamav/clamd.ctl", False),
        ("development", "", False),
    ],
    ids=["production, off", "production, on", "development, off"],
)
def test_production_with_scanning_off_says_so_once_at_start_up(
    database_url, caplog, environment, address, warned
):
    """CLAMD_ADDRESS=off reaches the app as "" (bellyfed/config.py); production says so once."""
    with caplog.at_level(logging.WARNING, logger=scan.__name__):
        app = make_test_app(database_url, BELLYFED_ENV=environment, CLAMD_ADDRESS=address)
    said = [r for r in caplog.records if r.name == scan.__name__]
    assert [(r.levelno, r.getMessage()) for r in said] == (
        [(logging.WARNING, STARTUP_WARNING)] if warned else []
    )
    assert app.config["CLAMD_ADDRESS"] == address
