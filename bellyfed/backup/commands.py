"""``flask backup``: create, verify and restore backups."""

from __future__ import annotations

from flask.cli import AppGroup

backup_cli = AppGroup("backup", help="Back up and restore PostgreSQL and DynamoDB.")
