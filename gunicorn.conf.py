"""gunicorn settings, read automatically from the working directory.

Sync workers: on this 2-core class of machine, 3 sync workers gave the best p99
(see docs/architecture.md).
"""

import os
import re

from gunicorn import glogging

# Loopback in development; every interface in production, where the platform routes to PORT.
_production = os.environ.get("BELLYFED_ENV") == "production"
_default_host = "0.0.0.0" if _production else "127.0.0.1"  # noqa: S104
bind = f"{os.environ.get('WEB_HOST', _default_host)}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
worker_class = "sync"
timeout = int(os.environ.get("WEB_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 2
accesslog = "-" if os.environ.get("WEB_ACCESS_LOG", "1") == "1" else None

# Secrets that travel in a URL (a password-reset link, the API token form's state) never reach
# the access log: the path segment after these prefixes is logged as "[redacted]".
SECRET_PATHS = re.compile(r"(/auth/reset/|/account/tokens/new/)[^/?\s\"]+")


def redact(text: str) -> str:
    return SECRET_PATHS.sub(r"\1[redacted]", text)


class RedactingLogger(glogging.Logger):
    """gunicorn's logger, with secrets taken out of the request line and path atoms."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("r", "U"):
            if isinstance(atoms.get(key), str):
                atoms[key] = redact(atoms[key])
        return atoms


logger_class = RedactingLogger
errorlog = "-"
# Each worker imports the app after post_fork below, so prometheus_client sees the directory.
preload_app = False

# Prometheus: the worker processes share their metrics through files in this directory
# (prometheus_client's multiprocess mode), so any worker's /metrics shows the whole server. One
# directory per gunicorn, emptied at start. It goes into the environment of the workers only
# (post_fork), never the master's: anything else started from this shell or by the master (a
# Celery worker, a `flask` command) must not write its metrics into the web's directory.
PROMETHEUS_DIR = os.path.abspath(
    os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.path.join(".local", "prometheus")
)


def on_starting(server):
    """Start from empty: files left by a previous run would be added to this one's totals."""
    os.makedirs(PROMETHEUS_DIR, exist_ok=True)
    for name in os.listdir(PROMETHEUS_DIR):
        if name.endswith(".db"):
            os.remove(os.path.join(PROMETHEUS_DIR, name))


def post_fork(server, worker):
    """In the new worker, before it imports the app (and prometheus_client)."""
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = PROMETHEUS_DIR


def child_exit(server, worker):
    """Drop a finished worker's live gauges (pool use); its counters keep counting in the sum."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid, PROMETHEUS_DIR)


def worker_exit(server, worker):
    """Send the analytics events this worker batched but has not sent yet (a graceful exit)."""
    from bellyfed.analytics.events import send_pending

    send_pending()
