"""Backups of both stores: a PostgreSQL dump and every DynamoDB table, with a manifest
(``flask backup``; the runbook is docs/operations.md).

A backup is one directory (local, or a prefix in S3)::

    manifest.json              written last: its presence marks a complete backup
    postgres.dump              pg_dump --format=custom, taken in an exported snapshot
    dynamodb/<logical>.jsonl   one item per line, DynamoDB's typed JSON (binary as base64)
"""

from __future__ import annotations


class BackupError(Exception):
    """A backup, verification or restore cannot go on; the message is fit to show an operator."""
