"""WSGI entry point for gunicorn (``gunicorn wsgi:app``) and the ``flask --app wsgi`` CLI."""

import sys

from bellyfed import create_app
from bellyfed.config import ConfigError

try:
    app = create_app()
except ConfigError as exc:  # a clear one-line refusal instead of a traceback
    sys.exit(f"bellyfed: {exc}")
