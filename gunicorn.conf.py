"""gunicorn settings, read automatically from the working directory.

Sync workers: on this 2-core class of machine, 3 sync workers gave the best p99
(see docs/architecture.md).
"""

import os

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
errorlog = "-"
