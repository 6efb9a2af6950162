"""DynamoDB reads and writes for the moves: paged scans that can resume, and BatchWriteItem with
its ``UnprocessedItems`` retried under exponential backoff."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

from bellyfed.dynamo import resource, table, table_name

BATCH_WRITE_LIMIT = 25  # items per BatchWriteItem request (a DynamoDB limit)
MAX_ATTEMPTS = 8  # per chunk: the first try plus up to 7 retries of what came back unprocessed
BASE_DELAY = 0.05  # seconds; doubled per retry
MAX_DELAY = 5.0


class UnprocessedItemsError(RuntimeError):
    """DynamoDB kept handing items back (throttled) after every retry."""


def plain(value: Any) -> Any:
    """A DynamoDB value made JSON-friendly: Decimals become ints (or floats), recursively."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def scan_page(
    logical: str, start: dict[str, Any] | None, limit: int, **kwargs: Any
) -> tuple[list[dict[str, Any]], dict[str, Any] | None, int]:
    """One Scan page of at most ``limit`` examined items: (matches, the next start, examined).

    ``Limit`` counts items read before the filter, so a page may hold fewer matches (even none);
    the next start is None after the last page. Consistent reads: a move must see every write.
    """
    request: dict[str, Any] = {"Limit": limit, "ConsistentRead": True, **kwargs}
    if start:
        request["ExclusiveStartKey"] = start
    page = table(logical).scan(**request)
    following = page.get("LastEvaluatedKey")
    return page["Items"], plain(following) if following else None, page["ScannedCount"]


def scan_all(logical: str, page_size: int = 1000, **kwargs: Any) -> Iterator[dict[str, Any]]:
    """Every item a Scan with these arguments matches, page by page."""
    start = None
    while True:
        items, start, _ = scan_page(logical, start, page_size, **kwargs)
        yield from items
        if start is None:
            return


def batch_write(
    logical: str,
    requests: list[dict[str, Any]],
    *,
    write: Callable[..., dict[str, Any]] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Send Put/Delete requests in chunks of 25, resending ``UnprocessedItems`` with backoff.

    ``write`` is the BatchWriteItem call (the resource's by default; a test passes a double,
    since moto never throttles). Returns the number of retries it took; raises
    UnprocessedItemsError if a chunk still has unprocessed items after MAX_ATTEMPTS.
    """
    write = write or resource().batch_write_item
    name = table_name(logical)
    retries = 0
    for start in range(0, len(requests), BATCH_WRITE_LIMIT):
        pending: dict[str, Any] = {name: requests[start : start + BATCH_WRITE_LIMIT]}
        for attempt in range(MAX_ATTEMPTS):
            pending = write(RequestItems=pending).get("UnprocessedItems") or {}
            if not pending:
                break
            if attempt == MAX_ATTEMPTS - 1:
                left = sum(len(v) for v in pending.values())
                raise UnprocessedItemsError(
                    f"DynamoDB left {left} item(s) unprocessed after {MAX_ATTEMPTS} attempts "
                    f"(throttled: raise the table's write capacity or lower --batch-size)"
                )
            retries += 1
            sleep(backoff(attempt))
    return retries


def backoff(attempt: int) -> float:
    """Seconds to wait before retry ``attempt`` + 1: exponential with "equal jitter", so
    parallel writers spread out but every wait is at least half its cap."""
    cap = min(MAX_DELAY, BASE_DELAY * 2**attempt)
    return cap / 2 + random.uniform(0, cap / 2)
