"""A private ClamAV daemon for the upload tests: its own temporary directory, unix socket and TCP
port, in the foreground, started and stopped by the test that owns it (never the system's).

There is no internet to fetch ClamAV's signatures, and the tests need none of them: the database
holds signatures of our own, for the EICAR test file (anywhere in a file, and the whole file by
hash) and for a marker string. clamd reads such a database in well under a second.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests.conftest import free_port

# The EICAR anti-virus test file, in two halves so that no scanner flags this source file itself.
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-" + b"ANTIVIRUS-TEST-FILE!$H+H*"
MARKER = b"BELLYFED-AV-TEST-MARKER-3f6c1d"
STREAM_MAX_BYTES = 1024 * 1024  # clamd's StreamMaxLength here: tests/photos/test_scan.py passes it
# clamd adds ".UNOFFICIAL" to the names of signatures that are not ClamAV's own.
EICAR_SIGNATURE = "Bellyfed.Test.EICAR.UNOFFICIAL"
MARKER_SIGNATURE = "Bellyfed.Test.Marker.UNOFFICIAL"


def clamd_binary() -> str:
    """clamd from $CLAMD, the PATH or Debian's place; missing, the tests fail (never skip)."""
    found = os.environ.get("CLAMD") or shutil.which("clamd") or "/usr/sbin/clamd"
    if not os.access(found, os.X_OK):
        raise RuntimeError(
            "the upload tests need ClamAV's daemon: apt-get install clamav-daemon (or set CLAMD)"
        )
    return found


def write_signatures(database: Path) -> None:
    """Body signatures (any offset, so bytes behind a real photo count) and a whole-file hash."""
    database.mkdir()
    (database / "bellyfed-test.ndb").write_text(
        f"Bellyfed.Test.EICAR:0:*:{EICAR.hex()}\nBellyfed.Test.Marker:0:*:{MARKER.hex()}\n"
    )
    md5 = hashlib.md5(EICAR).hexdigest()  # noqa: S324 - ClamAV's .hdb format is MD5
    (database / "bellyfed-test.hdb").write_text(f"{md5}:{len(EICAR)}:Bellyfed.Test.EICAR-File\n")


class PrivateClamd:
    """clamd in the foreground on a unix socket (``address``) and a loopback port (``tcp``)."""

    def __init__(self) -> None:
        self.binary = clamd_binary()
        self.root = Path(tempfile.mkdtemp(prefix="bellyfed-clamd-"))
        self.address = str(self.root / "clamd.sock")
        self.port = free_port()
        self.tcp = f"127.0.0.1:{self.port}"
        self.log = self.root / "clamd.log"
        self.config = self.root / "clamd.conf"
        write_signatures(self.root / "db")
        self.config.write_text(
            "Foreground yes\n"
            f"LocalSocket {self.address}\n"
            f"TCPSocket {self.port}\nTCPAddr 127.0.0.1\n"
            f"DatabaseDirectory {self.root / 'db'}\n"
            f"TemporaryDirectory {self.root}\n"
            f"LogFile {self.log}\n"
            f"StreamMaxLength {STREAM_MAX_BYTES // 1024}K\n"
            "MaxThreads 4\n"
        )
        self.process: subprocess.Popen | None = None
        self.started_in = 0.0

    def start(self) -> PrivateClamd:
        started = time.monotonic()
        self.process = subprocess.Popen(
            [self.binary, f"--config-file={self.config}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        deadline = started + 30
        while not self.answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                log = self.log_text()[-3000:]
                self.close()
                raise RuntimeError(f"clamd did not start:\n{log}")
            time.sleep(0.02)
        self.started_in = time.monotonic() - started
        return self

    def answers(self) -> bool:
        try:
            with socket.socket(socket.AF_UNIX) as sock:
                sock.settimeout(1)
                sock.connect(self.address)
                sock.sendall(b"zPING\0")
                return sock.recv(16) == b"PONG\0"
        except OSError:
            return False

    def stop(self) -> None:
        """SIGTERM, as an operator's stop would: clamd removes its socket and exits."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""
