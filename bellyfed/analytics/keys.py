"""Redis keys and buffer field shapes shared by the request side and the flush.

Buffer field: ``<kind>|<entity>|<minute>``, e.g. ``view|restaurant:42|2026-11-27T10:05``.
The entity never contains "|"; in DynamoDB the item key is ``<kind>#<entity>``.
"""

from __future__ import annotations

from datetime import datetime

BUFFER = "bellyfed:events"  # HASH field -> count, filled by requests
BATCH = "bellyfed:batch:"  # HASH snapshot of the buffer taken by one flush, suffixed by its seq
SEQ = "bellyfed:flush:seq"  # INCR: the next batch number
LOCK = "bellyfed:flush:lock"  # one flusher at a time
LAST_FLUSH = "bellyfed:flush:last"  # epoch seconds of the last completed flush
HLL = "bellyfed:hll:"  # HyperLogLog of visitors per "<kind>|<entity>|<hour>"
HLL_TTL = 3 * 24 * 3600
# ZSETs for the dashboard: "views:<hour>" by restaurant, "searches:<day>", and per day the API's
# "api:<day>" by endpoint, "api_token:<day>" by token digest, "api_error:<day>" by endpoint:status.
TOP = "bellyfed:top:"
TOP_TTL = 2 * 24 * 3600
TOUCHED = "bellyfed:touched:"  # SET of item keys with hour buckets on a day, for the daily rollup
TOUCHED_TTL = 3 * 24 * 3600


def minute_of(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M")


def field(kind: str, entity: str, minute: str) -> str:
    return f"{kind}|{entity}|{minute}"


def split(raw: str) -> tuple[str, str, str]:
    """(kind, entity, minute) of a buffer field."""
    kind, entity, minute = raw.split("|")
    return kind, entity, minute


def hll_key(kind: str, entity: str, hour: str) -> str:
    return f"{HLL}{kind}|{entity}|{hour}"
