"""DynamoDB reads and writes for the moves: paged scans that can resume, and conditional writes
resent under exponential backoff while DynamoDB throttles."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from bellyfed.dynamo import table

MAX_ATTEMPTS = 8  # per write: the first try plus up to 7 retries while throttled
BASE_DELAY = 0.05  # seconds; doubled per retry
MAX_DELAY = 5.0


THROTTLED = frozenset(
    {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}
)


class ThrottledError(RuntimeError):
    """DynamoDB kept throttling a write after every retry."""


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


def write_if(
    call: Callable[..., Any],
    *,
    sleep: Callable[[float], None] = time.sleep,
    **request: Any,
) -> tuple[bool, int]:
    """Send one conditional write (``put_item`` / ``delete_item`` with a ``ConditionExpression``),
    resending it with backoff while DynamoDB throttles.

    Returns (applied, retries): applied is False when the condition failed. Raises
    ThrottledError when still throttled after MAX_ATTEMPTS (botocore's own few retries happen
    inside each attempt); any other refusal propagates.
    """
    for attempt in range(MAX_ATTEMPTS):
        try:
            call(**request)
            return True, attempt
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code == "ConditionalCheckFailedException":
                return False, attempt
            if code not in THROTTLED:
                raise
            if attempt == MAX_ATTEMPTS - 1:
                raise ThrottledError(
                    f"DynamoDB kept throttling writes after {MAX_ATTEMPTS} attempts "
                    "(raise the table's write capacity, then rerun with --resume)"
                ) from exc
            sleep(backoff(attempt))
    raise AssertionError("unreachable")  # the loop returns or raises


def backoff(attempt: int) -> float:
    """Seconds to wait before retry ``attempt`` + 1: exponential with "equal jitter", so
    parallel writers spread out but every wait is at least half its cap."""
    cap = min(MAX_DELAY, BASE_DELAY * 2**attempt)
    return cap / 2 + random.uniform(0, cap / 2)
