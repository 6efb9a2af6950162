"""Pages for signed-out visitors, kept a few seconds in each web process.

Every signed-out visitor sees the same restaurant page or leaderboard, and most anonymous traffic
goes to a few popular pages; rendering one costs ~10 queries and a large template (see
docs/performance.md). So each web process keeps the pages it rendered for
``PAGE_CACHE_SECONDS`` (0 turns it off): a signed-out visitor may see a page that old. A request
with a session cookie (signed in, or carrying a flash message) always gets a fresh page, so a
diner sees their own review or vote at once.

Only GET/HEAD 200 responses are kept, under the path, the query string and the HTMX headers a
fragment depends on, and never a page with something decided for this visitor (a flag rolled
out to a percentage or a running experiment: ``g.page_varies``). The analytics events a view
recorded are replayed on each hit, so a cached view still counts. Each process holds at most
``PAGE_CACHE_MAX_BYTES`` of pages and keys (least recently used out first); nothing is shared,
so no backing service can slow or break a page.
"""

from __future__ import annotations

import functools
import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, current_app, g, make_response, request, session
from flask.typing import ResponseReturnValue
from flask_login import current_user

from bellyfed.ops.metrics import count_cache_lookup

DEFAULT_SECONDS = 15
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
# What a page (or the events it records) depends on besides the URL: bellyfed/core/htmx.py, the
# restaurant page's HX-Target "reviews", and the search's HX-Trigger "q" (live typing is not
# counted as a search).
HTMX_FLAGS = ("HX-Request", "HX-History-Restore-Request", "HX-Boosted")
# Response headers worth keeping; the after-request hooks add the security headers every time.
KEPT_HEADERS = ("Content-Type", "Vary")

Key = tuple[str, ...]


@dataclass(frozen=True)
class Entry:
    body: bytes
    headers: tuple[tuple[str, str], ...]
    etag: str
    events: tuple[tuple[str, str, bool], ...]  # analytics.events.record() calls to replay
    expires: float


class PageCache:
    """A size-bounded LRU of rendered pages with a per-entry expiry; safe across threads."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Key, Entry] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: Key, now: float) -> Entry | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry.expires <= now:
                self._remove(key)
                return None
            self._entries.move_to_end(key)
            return entry

    def put(self, key: Key, entry: Entry) -> None:
        if _size(key, entry) > self.max_bytes // 4:  # one huge page must not flush all others
            return
        with self._lock:
            if key in self._entries:
                self._remove(key)
            self._entries[key] = entry
            self._bytes += _size(key, entry)
            while self._bytes > self.max_bytes:
                self._remove(next(iter(self._entries)))

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def _remove(self, key: Key) -> None:
        self._bytes -= _size(key, self._entries.pop(key))


def _size(key: Key, entry: Entry) -> int:
    """What an entry holds: its body, and its key (the query string is the client's to choose)."""
    return len(entry.body) + sum(map(len, key)) + sum(len(k) + len(v) for k, v in entry.headers)


def init_app(app: Flask) -> None:
    """One cache per process (gunicorn forks workers before the first request fills it)."""
    seconds = int(app.config.get("PAGE_CACHE_SECONDS", DEFAULT_SECONDS))
    max_bytes = int(app.config.get("PAGE_CACHE_MAX_BYTES", DEFAULT_MAX_BYTES))
    if seconds < 0 or max_bytes < 0:
        raise ValueError(
            "PAGE_CACHE_SECONDS and PAGE_CACHE_MAX_BYTES must be 0 or more "
            f"(got {seconds} and {max_bytes})"
        )
    app.config["PAGE_CACHE_SECONDS"] = seconds
    app.extensions["page_cache"] = PageCache(max_bytes)


def has_session_cookie() -> bool:
    """Whether the request carries a session cookie (its name depends on the session backend
    and on secure cookies: ``__Host-session`` in production). Without one nobody is signed in."""
    return current_app.session_interface.get_cookie_name(current_app) in request.cookies


def _cacheable_request() -> bool:
    if request.method not in ("GET", "HEAD") or not current_app.config["PAGE_CACHE_SECONDS"]:
        return False
    return not has_session_cookie()


def _key() -> Key:
    """Path, query string and the HTMX headers that matter, each reduced to the few values the
    views tell apart: a client cannot grow a key with long header values."""
    headers = request.headers
    return (
        request.path,
        request.query_string.decode("latin-1"),
        *(str(headers.get(name) == "true") for name in HTMX_FLAGS),
        str(headers.get("HX-Target") == "reviews"),
        str(headers.get("HX-Trigger") == "q"),
    )


def anonymous_page(view: Callable[..., ResponseReturnValue]) -> Callable[..., ResponseReturnValue]:
    """Serve ``view``'s page from this process's cache to visitors without a session."""

    @functools.wraps(view)
    def cached_view(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        if not _cacheable_request():
            return view(*args, **kwargs)
        cache: PageCache = current_app.extensions["page_cache"]
        key, now = _key(), time.monotonic()
        entry = cache.get(key, now)
        if entry is not None:
            count_cache_lookup("page", "hit")
            g.setdefault("analytics_events", []).extend(entry.events)
            return _replay(entry)
        count_cache_lookup("page", "miss")
        before = len(g.get("analytics_events", ()))
        response = make_response(view(*args, **kwargs))
        if response.status_code != 200 or response.direct_passthrough or response.is_streamed:
            return response
        # Somebody's own page: signed in, a flash message or a sign-in written to the session, a
        # "sessions are unavailable" notice, or a flag or experiment decided per visitor.
        if (current_user.is_authenticated or session.modified
                or getattr(session, "unavailable", False) or g.get("page_varies")):  # fmt: skip
            return response
        body = response.get_data()
        entry = Entry(
            body=body,
            headers=tuple((k, v) for k, v in response.headers.items() if k in KEPT_HEADERS),
            etag=hashlib.blake2b(body, digest_size=12).hexdigest(),
            events=tuple(g.get("analytics_events", ())[before:]),
            expires=now + current_app.config["PAGE_CACHE_SECONDS"],
        )
        cache.put(key, entry)
        response.set_etag(entry.etag)
        return response.make_conditional(request)

    return cached_view


def _replay(entry: Entry) -> Response:
    response = Response(entry.body, headers=list(entry.headers))
    response.set_etag(entry.etag)
    return response.make_conditional(request)
