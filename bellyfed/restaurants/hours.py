"""Opening hours in a restaurant's own time zone: open now, today's intervals, next change.

Intervals are [opens_at, closes_at) on a weekday; ``closes_at <= opens_at`` runs past midnight
into the next day, and equal times mean a full 24 hours.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo


class Interval(Protocol):
    weekday: int
    opens_at: time
    closes_at: time


class Closure(Protocol):
    starts_on: date
    ends_on: date


@dataclass(frozen=True)
class OpenState:
    """Whether a place is open at an instant, and until when (or when it opens next)."""

    is_open: bool
    changes_at: datetime | None  # local time of the next opening or closing, within a week
    closed_for: str | None = None  # reason of a special closure


def spans(interval: Interval, on: date) -> tuple[datetime, datetime]:
    """The naive local [start, end) of an interval on the given date (its weekday)."""
    start = datetime.combine(on, interval.opens_at)
    end = datetime.combine(on, interval.closes_at)
    if end <= start:
        end += timedelta(days=1)
    return start, end


def _closed_on(day: date, closures: Iterable[Closure]) -> Closure | None:
    return next((c for c in closures if c.starts_on <= day <= c.ends_on), None)


def open_state(
    hours: Sequence[Interval], closures: Sequence[Closure], now_local: datetime
) -> OpenState:
    """Open/closed at ``now_local`` (naive local time), and the next change within 8 days."""
    now = now_local.replace(tzinfo=None)
    candidates: list[tuple[datetime, datetime]] = []
    for offset in range(-1, 8):  # yesterday's late interval may still be running
        day = now.date() + timedelta(days=offset)
        if _closed_on(day, closures):
            continue
        candidates.extend(spans(h, day) for h in hours if h.weekday == day.weekday())
    candidates.sort()
    for start, end in candidates:
        if start <= now < end:
            # Back-to-back intervals (23:00-00:00 then 00:00-02:00) read as one stretch.
            for next_start, next_end in candidates:
                if next_start == end:
                    end = next_end
            return OpenState(True, end)
    upcoming = [start for start, _ in candidates if start > now]
    closure = _closed_on(now.date(), closures)
    return OpenState(False, upcoming[0] if upcoming else None, closure.reason if closure else None)


def local_now(timezone: str, at: datetime | None = None) -> datetime:
    """The current (or given aware) instant as naive local time in ``timezone``."""
    instant = at or datetime.now(ZoneInfo("UTC"))
    return instant.astimezone(ZoneInfo(timezone)).replace(tzinfo=None)


def week_table(hours: Sequence[Interval]) -> list[tuple[int, list[Interval]]]:
    """Each weekday 0-6 with its intervals in opening order (empty list: closed)."""
    by_day: dict[int, list[Interval]] = {day: [] for day in range(7)}
    for interval in sorted(hours, key=lambda h: (h.weekday, h.opens_at)):
        by_day[interval.weekday].append(interval)
    return list(by_day.items())
