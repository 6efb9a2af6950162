"""DynamoDB metrics from boto3 event hooks: calls, errors, throttles, latency, consumed capacity.

``instrument_dynamodb(client)`` is called once per client by ``bellyfed.dynamo.resource()``. Every
operation that accepts it is asked for ``ReturnConsumedCapacity=TOTAL`` (unless the caller chose
otherwise); the units go to the Prometheus counter and, per hour, to ``capacity.record`` for
``flask cost report``.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any

from flask import has_app_context
from prometheus_client import Counter, Histogram

from bellyfed.ops import capacity

log = logging.getLogger(__name__)

DYNAMO_CALLS = Counter("bellyfed_dynamodb_calls", "DynamoDB API calls.", ["table", "operation"])
DYNAMO_ERRORS = Counter(
    "bellyfed_dynamodb_errors",
    "DynamoDB calls that failed, by error code.",
    ["table", "operation", "code"],
)
DYNAMO_THROTTLES = Counter(
    "bellyfed_dynamodb_throttles",
    "Throttled DynamoDB attempts, retried or not.",
    ["table", "operation"],
)
DYNAMO_CAPACITY = Counter(
    "bellyfed_dynamodb_consumed_capacity_units",
    "Consumed capacity (ReturnConsumedCapacity=TOTAL).",
    ["table", "operation", "kind"],
)
DYNAMO_LATENCY = Histogram(
    "bellyfed_dynamodb_call_duration_seconds",
    "DynamoDB call time, retries included.",
    ["table", "operation"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)

READS = frozenset(("GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"))
THROTTLE_CODES = frozenset(
    ("ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded")
)
_TABLE, _STARTED = "bellyfed_table", "bellyfed_started"


def table_of(params: dict[str, Any]) -> str:
    """The table a call is about; batch and transaction calls over several tables say so."""
    if "TableName" in params:
        return str(params["TableName"])
    names = set(params.get("RequestItems") or ())
    for item in params.get("TransactItems") or ():
        operations = item.values() if isinstance(item, dict) else ()
        names.update(
            op["TableName"] for op in operations if isinstance(op, dict) and "TableName" in op
        )
    if len(names) == 1:
        return str(names.pop())
    return "multiple" if names else "none"


def capacity_units(operation: str, entry: dict[str, Any]) -> tuple[float, float]:
    """(read, write) units of one ConsumedCapacity entry; TOTAL often gives only CapacityUnits."""
    read, write = entry.get("ReadCapacityUnits"), entry.get("WriteCapacityUnits")
    if read is None and write is None:
        units = float(entry.get("CapacityUnits") or 0)
        return (units, 0.0) if operation in READS else (0.0, units)
    return float(read or 0), float(write or 0)


def _never_fail(hook: Callable[..., None]) -> Callable[..., None]:
    """A metrics hook that raised would fail the DynamoDB call itself: log it instead."""

    @functools.wraps(hook)
    def guarded(**kwargs: Any) -> None:
        try:
            hook(**kwargs)
        except Exception:
            log.exception("metrics: DynamoDB hook %s failed", hook.__name__)

    return guarded


@_never_fail
def _ask_for_capacity(params: dict[str, Any], model: Any, context: dict, **_: Any) -> None:
    context[_STARTED] = time.perf_counter()
    shape = model.input_shape
    if shape is not None and "ReturnConsumedCapacity" in shape.members:
        params.setdefault("ReturnConsumedCapacity", "TOTAL")
    context[_TABLE] = table_of(params)


@_never_fail
def _after_call(http_response: Any, parsed: dict, model: Any, context: dict, **_: Any) -> None:
    operation, table = model.name, context.get(_TABLE, "none")
    DYNAMO_CALLS.labels(table, operation).inc()
    if _STARTED in context:
        DYNAMO_LATENCY.labels(table, operation).observe(time.perf_counter() - context[_STARTED])
    if http_response.status_code >= 300:
        code = parsed.get("Error", {}).get("Code") or str(http_response.status_code)
        DYNAMO_ERRORS.labels(table, operation, code).inc()
    consumed = parsed.get("ConsumedCapacity") or []
    for entry in [consumed] if isinstance(consumed, dict) else consumed:
        read, write = capacity_units(operation, entry)
        name = entry.get("TableName", table)
        if read:
            DYNAMO_CAPACITY.labels(name, operation, "read").inc(read)
        if write:
            DYNAMO_CAPACITY.labels(name, operation, "write").inc(write)
        if has_app_context():  # buffered inside a request: no Redis round trip per call
            capacity.record(name, operation, read, write)


@_never_fail
def _call_failed(exception: Exception, context: dict, **kwargs: Any) -> None:
    operation = kwargs.get("event_name", "").rsplit(".", 1)[-1] or "unknown"
    table = context.get(_TABLE, "none")
    DYNAMO_CALLS.labels(table, operation).inc()
    DYNAMO_ERRORS.labels(table, operation, type(exception).__name__).inc()


@_never_fail
def _count_throttle(response: Any, operation: Any, request_dict: dict, **_: Any) -> None:
    # Per attempt: botocore retries throttles itself, so after-call only sees the last one.
    if response is not None and response[1].get("Error", {}).get("Code") in THROTTLE_CODES:
        table = request_dict.get("context", {}).get(_TABLE, "none")
        DYNAMO_THROTTLES.labels(table, operation.name).inc()


def instrument_dynamodb(client: Any) -> None:
    """Count calls, errors, throttles, latency and consumed capacity of this DynamoDB client."""
    events = client.meta.events
    events.register(
        "provide-client-params.dynamodb.*", _ask_for_capacity, unique_id="bellyfed-metrics-ask"
    )
    events.register("after-call.dynamodb.*", _after_call, unique_id="bellyfed-metrics-after")
    events.register("after-call-error.dynamodb.*", _call_failed, unique_id="bellyfed-metrics-err")
    events.register("needs-retry.dynamodb.*", _count_throttle, unique_id="bellyfed-metrics-retry")
