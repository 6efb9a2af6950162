"""Private backing services and app processes for the fault tests, each one ours to break.

PostgreSQL (initdb + pg_ctl in a temporary directory), Redis (``--save '' --appendonly no``),
moto's server behind a forwarder (tests/faults/forwarder.py), gunicorn as the Procfile runs it and
a Celery worker as the Procfile runs it: all on free loopback ports, none of the shared ones.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import requests

from bellyfed import PROJECT_ROOT
from tests.conftest import free_port, wait_for_port

# Not a bot to the analytics rule (bellyfed/analytics/events.py), so its views are counted.
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
VENV_BIN = Path(sys.executable).parent


def wait_until(
    check: Callable[[], object], seconds: float, what: str, every: float = 0.2
) -> object:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {seconds} s")
        time.sleep(every)


def port_open(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def pg_bindir() -> Path:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: [int(n) for n in re.findall(r"\d+", p)],
    )
    if not found:
        raise RuntimeError(
            "the fault tests need PostgreSQL's server binaries (apt-get install postgresql)"
        )
    return Path(found[-1])


class Postgres:
    """A PostgreSQL cluster of our own (initdb), started and stopped with pg_ctl."""

    def __init__(self, root: Path) -> None:
        self.bindir = pg_bindir()
        self.data = root / "pg"
        self.sock = root / "pgsock"
        self.log = root / "pg.log"
        self.port = free_port()
        self.run_as: list[str] = []
        self.data.mkdir()
        self.sock.mkdir()
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            user = "postgres"
            if subprocess.run(["id", user], capture_output=True).returncode != 0:
                user = "nobody"
            self.run_as = ["runuser", "-u", user, "--"]
            os.chmod(root, 0o755)  # noqa: S103 - the postgres user must reach its data directory
            for path in (self.data, self.sock):
                subprocess.run(["chown", user, str(path)], check=True)
            self.log.touch()
            subprocess.run(["chown", user, str(self.log)], check=True)
        subprocess.run(
            [*self.run_as, str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres",
             "--auth=trust", "--no-sync"],
            check=True, capture_output=True,
        )  # fmt: skip

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.sock} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c shared_buffers=64MB"
        )
        subprocess.run(
            [*self.run_as, str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log),
             "-w", "-t", "30", "-o", options, "start"],
            check=True, capture_output=True,
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        subprocess.run(
            [*self.run_as, str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w",
             "-t", "30", "stop"],
            check=False, capture_output=True,
        )  # fmt: skip

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"


class Process:
    """A child process in its own session (so the whole group can be signalled), logged to a file."""

    def __init__(self, name: str, argv: list[str], log: Path, env: dict[str, str] | None = None,
                 cwd: Path = PROJECT_ROOT) -> None:  # fmt: skip
        self.name, self.argv, self.log_path, self.env, self.cwd = name, argv, log, env, cwd
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        self.process = subprocess.Popen(
            self.argv, env=self.env, cwd=self.cwd, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        log.close()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self, sig: int = signal.SIGKILL, group: bool = True) -> None:
        """Signal the process (and, with ``group``, every process it started), then reap it."""
        if not self.alive():
            return
        try:
            if group:
                os.killpg(self.pid, sig)
            else:
                os.kill(self.pid, sig)
        except ProcessLookupError:
            pass
        if sig in (signal.SIGKILL, signal.SIGTERM):
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
            if group:  # children left behind by a killed parent
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.pid, signal.SIGKILL)

    def stop(self) -> None:
        self.kill(signal.SIGTERM)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class Redis(Process):
    """redis-server with nothing on disk: stopping it loses everything, as a crash would."""

    def __init__(self, root: Path) -> None:
        self.port = free_port()
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(root)]  # fmt: skip
        super().__init__("redis", argv, root / "redis.log")

    def start(self) -> None:
        super().start()
        wait_for_port(self.port)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


class Moto(Process):
    """moto's server, reached by the app only through a forwarder we can stop and start."""

    def __init__(self, root: Path) -> None:
        self.port = free_port()
        super().__init__("moto", [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p",
                                  str(self.port)], root / "moto.log")  # fmt: skip
        self.endpoint_port = free_port()
        self.forwarder = Process(
            "forwarder",
            [
                sys.executable,
                "-m",
                "tests.faults.forwarder",
                str(self.endpoint_port),
                str(self.port),
            ],
            root / "forwarder.log",
        )

    def start(self) -> None:
        super().start()
        wait_for_port(self.port, 30)
        self.start_endpoint()

    def start_endpoint(self) -> None:
        self.forwarder.start()
        wait_for_port(self.endpoint_port)

    def stop_endpoint(self) -> None:
        """The endpoint goes away: connections refused, those in flight reset."""
        self.forwarder.kill(signal.SIGKILL)

    @property
    def direct(self) -> str:
        """moto itself, for the tests' own reads (never down)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def endpoint(self) -> str:
        """What the app is given as its DynamoDB and S3 endpoint."""
        return f"http://127.0.0.1:{self.endpoint_port}"


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except FileNotFoundError:
        return []
    return [int(p) for p in text.split()]


def rss_kib(pid: int) -> int:
    """Resident set size of a process in KiB (0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return 0
    return 0


class Gunicorn(Process):
    """``gunicorn wsgi:app`` from the project root, as the Procfile's web process runs it."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        prometheus = root / "prometheus"
        prometheus.mkdir(exist_ok=True)
        env = env | {"PORT": str(self.port), "WEB_ACCESS_LOG": "0",
                     "PROMETHEUS_MULTIPROC_DIR": str(prometheus)}  # fmt: skip
        super().__init__("gunicorn", [str(VENV_BIN / "gunicorn"), "wsgi:app"], root / "gunicorn.log",
                         env)  # fmt: skip
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        super().start()
        wait_until(self._ready, 60, "gunicorn answering /healthz")
        workers = int(self.env.get("WEB_CONCURRENCY", "3"))
        wait_until(lambda: len(self.workers()) == workers, 30, f"{workers} gunicorn workers")

    def _ready(self) -> bool:
        assert self.alive(), f"gunicorn exited:\n{self.log_text()[-3000:]}"
        try:
            return requests.get(f"{self.url}/healthz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def workers(self) -> list[int]:
        return children(self.pid)


class Worker(Process):
    """``celery -A worker.app worker`` as the Procfile runs it (prefork, concurrency 2)."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root, self.starts = root, 0
        super().__init__("worker", [], root / "worker.log", env)

    def start(self) -> None:
        self.start_soon()
        self.wait_ready()

    def start_soon(self) -> None:
        """Start without waiting for it to be ready (``wait_ready`` later)."""
        self.starts += 1
        self.argv = [str(VENV_BIN / "celery"), "-A", "worker.app", "worker", "--loglevel=INFO",
                     f"--concurrency={self.env.get('WORKER_CONCURRENCY', '2')}",
                     "-n", f"faults{self.starts}@%h"]  # fmt: skip
        self._mark = len(self.log_text())
        Process.start(self)

    def wait_ready(self) -> None:
        wait_until(lambda: self._ready(self._mark), 60, "the Celery worker ready", every=0.3)

    def _ready(self, mark: int) -> bool:
        assert self.alive(), f"the worker exited:\n{self.log_text()[-3000:]}"
        return " ready." in self.log_text()[mark:]

    def pool(self) -> list[int]:
        """The prefork children that run the tasks."""
        return children(self.pid)
