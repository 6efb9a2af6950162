"""Uploaded bytes scanned by ClamAV's daemon (clamd) before anything decodes them (ASVS 12.4.2).

A client of our own for clamd's documented socket protocol (``man clamd``: ``zINSTREAM``, then
chunks each led by its length as a 4-byte big-endian number, then a zero length). It is small, and
owning it lets us tell "infected", "too big for clamd" and "clamd is away" apart exactly; the
``clamd`` package on PyPI has had no release since 2014. Scanning fails closed: with
``CLAMD_ADDRESS`` set, an upload clamd did not pass is never stored.
"""

from __future__ import annotations

import hashlib
import logging
import socket
import struct
import time

from flask import Flask, current_app

from bellyfed.photos.processing import PhotoRejected
from bellyfed.photos.storage import PhotoStorageUnavailable

log = logging.getLogger(__name__)

CHUNK_BYTES = 64 * 1024
REPLY_LIMIT = 4096  # a verdict is one short line; anything longer is not clamd talking
INFECTED = "This file was flagged by our virus scanner and was not stored."
PAUSED = "Photo uploads are paused while our virus scanner is unavailable. Please try again later."
TOO_BIG_TO_SCAN = "That photo is too large for our virus scanner. Please upload a smaller one."


class PhotoInfected(PhotoRejected):
    """clamd found a signature in the upload; ``signature`` names it (for operators, not users)."""

    def __init__(self, signature: str) -> None:
        super().__init__(INFECTED)
        self.signature = signature


class ScannerUnavailable(PhotoStorageUnavailable):
    """clamd is configured but did not answer in time: uploads wait (a 503, like S3 down)."""

    def __init__(self, message: str = PAUSED) -> None:
        super().__init__(message)


class ClamdError(RuntimeError):
    """clamd could not be reached, timed out, or answered something we don't understand."""


class ClamdSizeLimit(ClamdError):
    """clamd refused the stream as longer than its StreamMaxLength."""


def scan_stream(address: str, data: bytes, timeout: float) -> str | None:
    """The signature clamd found in ``data``, or None when it is clean; raises ClamdError.

    ``timeout`` bounds the whole scan (connect, every chunk sent, the verdict), not each socket
    call: a clamd that reads slowly is given up on in time for the diner's 503, not a worker kill.
    """
    deadline = time.monotonic() + timeout
    try:
        with _connect(address, deadline) as sock:
            try:
                _send(sock, b"zINSTREAM\0", deadline)
                for start in range(0, len(data), CHUNK_BYTES):
                    chunk = data[start : start + CHUNK_BYTES]
                    _send(sock, struct.pack(">I", len(chunk)) + chunk, deadline)
                _send(sock, struct.pack(">I", 0), deadline)
            except (BrokenPipeError, ConnectionResetError):
                pass  # clamd stops reading past StreamMaxLength and says why: read its reply
            reply = _read_reply(sock, deadline)
    except TimeoutError as exc:
        raise ClamdError(
            f"clamd at {address} did not finish the scan within {timeout:g} s"
        ) from exc
    except OSError as exc:
        raise ClamdError(f"cannot talk to clamd at {address}: {exc}") from exc
    if reply == "stream: OK":
        return None
    if reply.startswith("stream: ") and reply.endswith(" FOUND"):
        return reply[len("stream: ") : -len(" FOUND")]
    if "size limit exceeded" in reply:
        raise ClamdSizeLimit(reply)
    raise ClamdError(f"clamd at {address} answered {reply!r}")


def ping(address: str, timeout: float) -> str:
    """clamd's version line (``ClamAV 1.4.6/27000/...``); raises ClamdError if it is away."""
    deadline = time.monotonic() + timeout
    try:
        with _connect(address, deadline) as sock:
            _send(sock, b"zVERSION\0", deadline)
            return _read_reply(sock, deadline)
    except OSError as exc:
        raise ClamdError(f"cannot talk to clamd at {address}: {exc}") from exc


def scan_upload(data: bytes, *, uploader_id: int) -> None:
    """Refuse ``data`` unless clamd passes it; a no-op when CLAMD_ADDRESS is empty (off)."""
    address = current_app.config["CLAMD_ADDRESS"]
    if not address:
        return
    try:
        signature = scan_stream(address, data, current_app.config["CLAMD_TIMEOUT_SECONDS"])
    except ClamdSizeLimit as exc:
        log.error(
            "clamd refused a %d-byte upload as too long (%s): raise its StreamMaxLength above "
            "PHOTO_MAX_BYTES",
            len(data),
            exc,
        )
        raise PhotoRejected(TOO_BIG_TO_SCAN) from exc
    except ClamdError as exc:
        log.error("virus scanner unavailable, upload refused: %s", exc)
        raise ScannerUnavailable() from exc
    if signature is not None:
        log.warning(
            "virus scanner flagged an upload, refused: signature=%s uploader_id=%s bytes=%d "
            "sha256=%s",
            signature,
            uploader_id,
            len(data),
            hashlib.sha256(data).hexdigest(),
        )
        raise PhotoInfected(signature)


def warn_if_off_in_production(app: Flask) -> None:
    """At start-up, say in the deploy log that production stores uploads unscanned (``off``)."""
    if app.config.get("BELLYFED_ENV") == "production" and not app.config.get("CLAMD_ADDRESS"):
        log.warning(
            "CLAMD_ADDRESS is off: uploads are stored without a virus scan (ASVS 12.4.2 not met)"
        )


def _time_left(deadline: float) -> float:
    """Seconds until ``deadline``; TimeoutError once it has passed."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("timed out")
    return left


def _connect(address: str, deadline: float) -> socket.socket:
    """A connected socket: ``address`` is a unix socket path (starts with /) or host:port."""
    if address.startswith("/"):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(_time_left(deadline))
            sock.connect(address)
        except OSError:
            sock.close()
            raise
        return sock
    host, _, port = address.rpartition(":")
    return socket.create_connection((host.strip("[]"), int(port)), timeout=_time_left(deadline))


def _send(sock: socket.socket, data: bytes, deadline: float) -> None:
    # sendall's timeout bounds the whole call (Python 3.5+), so each send gets what is left.
    sock.settimeout(_time_left(deadline))
    sock.sendall(data)


def _read_reply(sock: socket.socket, deadline: float) -> str:
    """One NUL-terminated reply (the z- commands' framing); the connection closes after it."""
    reply = b""
    while not reply.endswith(b"\0") and len(reply) < REPLY_LIMIT:
        sock.settimeout(_time_left(deadline))
        chunk = sock.recv(REPLY_LIMIT)
        if not chunk:
            break
        reply += chunk
    if not reply:
        raise ConnectionResetError("clamd closed the connection without a reply")
    return reply.rstrip(b"\0").decode("utf-8", "replace").strip()
