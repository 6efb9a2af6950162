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

from flask import current_app

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
    """The signature clamd found in ``data``, or None when it is clean; raises ClamdError."""
    try:
        with _connect(address, timeout) as sock:
            try:
                sock.sendall(b"zINSTREAM\0")
                for start in range(0, len(data), CHUNK_BYTES):
                    chunk = data[start : start + CHUNK_BYTES]
                    sock.sendall(struct.pack(">I", len(chunk)) + chunk)
                sock.sendall(struct.pack(">I", 0))
            except (BrokenPipeError, ConnectionResetError):
                pass  # clamd stops reading past StreamMaxLength and says why: read its reply
            reply = _read_reply(sock)
    except TimeoutError as exc:
        raise ClamdError(f"no answer from clamd at {address} within {timeout:g} s") from exc
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
    try:
        with _connect(address, timeout) as sock:
            sock.sendall(b"zVERSION\0")
            return _read_reply(sock)
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


def _connect(address: str, timeout: float) -> socket.socket:
    """A connected socket: ``address`` is a unix socket path (starts with /) or host:port."""
    if address.startswith("/"):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(address)
        except OSError:
            sock.close()
            raise
        return sock
    host, _, port = address.rpartition(":")
    return socket.create_connection((host.strip("[]"), int(port)), timeout=timeout)


def _read_reply(sock: socket.socket) -> str:
    """One NUL-terminated reply (the z- commands' framing); the connection closes after it."""
    reply = b""
    while not reply.endswith(b"\0") and len(reply) < REPLY_LIMIT:
        chunk = sock.recv(REPLY_LIMIT)
        if not chunk:
            break
        reply += chunk
    if not reply:
        raise ConnectionResetError("clamd closed the connection without a reply")
    return reply.rstrip(b"\0").decode("utf-8", "replace").strip()
