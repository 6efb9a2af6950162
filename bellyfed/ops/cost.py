"""``flask cost report``: DynamoDB usage and what it costs in each capacity mode."""

from __future__ import annotations

from flask.cli import AppGroup

cost_cli = AppGroup("cost", help="DynamoDB usage and cost.")
