"""DynamoDB side: export every table with a paginated Scan, import with batch writes.

Items are written in DynamoDB's typed JSON (boto3's TypeSerializer; binary as base64) and read
back through its TypeDeserializer: numbers stay exact Decimals (38 digits, DynamoDB's own limit),
sets stay sets, binary stays bytes. A table's checksum is the sum (mod 2**256) of its items'
SHA-256 over a canonical form, so it does not depend on scan order. A Scan is not a snapshot:
items written during the export may or may not be in it (DynamoDB's PITR is the point-in-time
copy).
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError
from flask import current_app

from bellyfed.backup import BackupError
from bellyfed.dynamo import resource
from bellyfed.dynamo.scaling import restore_plan
from bellyfed.dynamo.tables import TABLES, create_tables

BATCH = 25  # BatchWriteItem's limit
SCAN_PAGE_ITEMS = 1000  # per Scan request (DynamoDB also stops a page at 1 MB)
RETRIES = 8
MODULUS = 2**256
SERIALIZER = TypeSerializer()
DESERIALIZER = TypeDeserializer()
Item = dict[str, Any]


def client() -> Any:
    """The app's resource's client: it speaks Python values (TypeSerializer on the way in)."""
    return resource().meta.client


def encode(value: Any) -> Any:
    """A typed attribute value with bytes as base64 and set members sorted (canonical)."""
    ((kind, inner),) = value.items()
    if kind == "B":
        return {"B": base64.b64encode(bytes(inner)).decode()}
    if kind == "BS":
        return {"BS": sorted(base64.b64encode(bytes(b)).decode() for b in inner)}
    if kind in ("SS", "NS"):
        return {kind: sorted(inner)}
    if kind == "L":
        return {"L": [encode(v) for v in inner]}
    if kind == "M":
        return {"M": {k: encode(v) for k, v in inner.items()}}
    return {kind: inner}


def decode(value: Any) -> Any:
    """The reverse of ``encode``: a typed value TypeDeserializer accepts."""
    ((kind, inner),) = value.items()
    if kind == "B":
        return {"B": base64.b64decode(inner)}
    if kind == "BS":
        return {"BS": [base64.b64decode(b) for b in inner]}
    if kind == "L":
        return {"L": [decode(v) for v in inner]}
    if kind == "M":
        return {"M": {k: decode(v) for k, v in inner.items()}}
    return {kind: inner}


def line_of(item: Item) -> str:
    """One item (as boto3's resource returns it) as a JSON line, canonical: sorted keys, sorted
    sets, no spaces."""
    encoded = {name: encode(SERIALIZER.serialize(value)) for name, value in item.items()}
    return json.dumps(encoded, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class Checksum:
    """An order-independent digest of a set of items."""

    def __init__(self) -> None:
        self.items = 0
        self.total = 0

    def add(self, line: str) -> None:
        self.items += 1
        self.total = (self.total + int(hashlib.sha256(line.encode()).hexdigest(), 16)) % MODULUS

    @property
    def hex(self) -> str:
        return f"{self.total:064x}"


@contextmanager
def dynamo_errors(what: str) -> Iterator[None]:
    """Turn boto3's failures into a BackupError naming what was being done."""
    try:
        yield
    except ClientError as exc:
        raise BackupError(f"DynamoDB refused to {what}: {exc}") from exc
    except BotoCoreError as exc:
        raise BackupError(f"Cannot reach DynamoDB to {what}: {exc}") from exc


def scan(name: str) -> Iterator[Item]:
    """Every item of a table, page by page (strongly consistent reads)."""
    with dynamo_errors(f"scan {name}"):
        pages = (
            client()
            .get_paginator("scan")
            .paginate(
                TableName=name, ConsistentRead=True, PaginationConfig={"PageSize": SCAN_PAGE_ITEMS}
            )
        )
        for page in pages:
            yield from page["Items"]


def export_table(name: str, path: Path) -> Checksum:
    """Write a table to ``path`` as JSON lines; its item count and checksum."""
    checksum = Checksum()
    with path.open("w", encoding="utf-8") as out:
        for item in scan(name):
            line = line_of(item)
            checksum.add(line)
            out.write(line + "\n")
    return checksum


def file_checksum(path: Path) -> Checksum:
    """The checksum of an exported file (each line re-canonicalised, so a bad line raises)."""
    checksum = Checksum()
    try:
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                checksum.add(line_of(_item_of(line)))
    except UnicodeDecodeError as exc:
        raise BackupError(f"{path.name} is not UTF-8 text: {exc}") from exc
    return checksum


def table_checksum(name: str) -> Checksum:
    """The checksum of a live table."""
    checksum = Checksum()
    for item in scan(name):
        checksum.add(line_of(item))
    return checksum


def existing_tables() -> set[str]:
    with dynamo_errors("list tables"):
        names: set[str] = set()
        for page in client().get_paginator("list_tables").paginate():
            names.update(page["TableNames"])
        return names


def has_items(name: str) -> bool:
    with dynamo_errors(f"scan {name}"):
        return bool(client().scan(TableName=name, Limit=1, ConsistentRead=True)["Items"])


def create_missing(prefix: str) -> list[str]:
    """Create the app's missing tables under ``prefix`` from the same specs as ``flask dynamo``,
    on-demand whatever the configured capacity: a bulk import into 5 provisioned write units
    would be throttled until it gives up. ``flask dynamo apply-capacity`` comes afterwards."""
    config = current_app.config
    original = config["DYNAMODB_TABLE_PREFIX"]
    config["DYNAMODB_TABLE_PREFIX"] = prefix  # create_tables names tables from the config
    try:
        with dynamo_errors(f"create the tables with prefix {prefix!r}"):
            return create_tables(restore_plan())
    except ValueError as exc:  # a capacity setting that cannot be applied (dynamo/scaling.py)
        raise BackupError(f"Cannot create the tables with prefix {prefix!r}: {exc}") from exc
    finally:
        config["DYNAMODB_TABLE_PREFIX"] = original


def known(logical: str) -> bool:
    return logical in TABLES


def import_file(name: str, path: Path) -> int:
    """Batch-write a file's items into a table, retrying unprocessed ones; how many. Each is a
    whole-item put, so writing a file again (a continued restore) is idempotent."""
    count = 0
    batch: list[Item] = []
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            batch.append(_item_of(line))
            if len(batch) == BATCH:
                count += _write(name, batch)
                batch = []
    return count + (_write(name, batch) if batch else 0)


def _write(name: str, items: Iterable[Item]) -> int:
    pending = {name: [{"PutRequest": {"Item": item}} for item in items]}
    written = len(pending[name])
    for attempt in range(RETRIES):
        with dynamo_errors(f"write to {name}"):
            pending = client().batch_write_item(RequestItems=pending).get("UnprocessedItems")
        if not pending:
            return written
        time.sleep(min(0.05 * 2**attempt, 2))  # throttled: back off, then send the rest again
    raise BackupError(
        f"DynamoDB kept refusing writes to {name} (throttled): raise the table's write capacity "
        "(or switch it to on-demand), then continue with the same restore command plus "
        "--only dynamodb --allow-existing-items (it writes every item again)."
    )


def _item_of(line: str) -> Item:
    try:
        typed = json.loads(line).items()
        return {name: DESERIALIZER.deserialize(decode(value)) for name, value in typed}
    except (ValueError, AttributeError, TypeError, ArithmeticError) as exc:
        raise BackupError(f"Not an item in DynamoDB's typed JSON: {line[:80]!r}") from exc
