"""``flask data``: migrate and validate data between the stores."""

from __future__ import annotations

from flask.cli import AppGroup

data_cli = AppGroup("data", help="Move data between PostgreSQL and DynamoDB, and validate it.")
