"""Server-side sessions: the cookie carries a random id, DynamoDB keeps the contents.

Lifetime: ``SESSION_IDLE_SECONDS`` (30 min) without a request, ``SESSION_ABSOLUTE_SECONDS`` (12 h)
after sign-in at most; both are checked here on every load, because DynamoDB's TTL deletes late.
Costs: a visitor whose session is empty has no cookie, no item and causes no DynamoDB call; a
request writes at most once, and an unchanged session only moves ``last_seen`` when it is more
than ``TOUCH_SECONDS`` old. When DynamoDB cannot be reached the request runs with an empty
session (a signed-in user looks signed out and ``session.unavailable`` lets the page say why).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from flask import Flask, Request, Response, current_app, request, session
from flask.json.tag import TaggedJSONSerializer
from flask.sessions import SessionInterface, SessionMixin
from werkzeug.datastructures import CallbackDict

from bellyfed.dynamo import sessions as storage

log = logging.getLogger(__name__)
TOUCH_SECONDS = 60
API_PREFIX = "/api/"
UNAVAILABLE = (BotoCoreError, ClientError)
# What a sign-in form says while the store is down: nothing it saved would outlive the response.
SIGN_IN_UNAVAILABLE = (
    "Signing in is briefly unavailable. Browsing works as usual; try again in a minute."
)
RETRY_AFTER_SECONDS = 60
# A half-way two-step log-in (accounts/two_factor_views.py): whose it is, until the code comes.
PENDING_LOGIN_KEY = "two_factor_login"
serializer = TaggedJSONSerializer()


def new_id() -> str:
    """256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def handle(session_id: str) -> str:
    """A public name for a session (settings page forms): never the id itself."""
    return hashlib.sha256(session_id.encode()).hexdigest()[:20]


class ServerSession(CallbackDict, SessionMixin):
    """The session dict, plus what the store needs to know about it."""

    def __init__(self, data: dict[str, Any] | None = None,
                 stored: storage.StoredSession | None = None) -> None:  # fmt: skip
        def changed(_: ServerSession) -> None:
            self.modified = True

        super().__init__(data or {}, changed)
        self.stored = stored
        self.id = stored.id if stored else None
        self.replaces: str | None = None  # the id this one takes over from (rotation)
        self.unavailable = False
        self.detached = False  # an API request: never loaded, never saved
        self.modified = False

    def rotate(self) -> None:
        """A fresh id for the same contents; the old id stops working when the response is saved."""
        if self.stored is not None and self.replaces is None:
            self.replaces = self.stored.id
        self.id = None
        self.modified = True


def rotate() -> None:
    """Give the current session a new id (call at sign-in and sign-out: no session fixation)."""
    if isinstance(session, ServerSession):
        session.rotate()


def available() -> bool:
    """Whether a session can be saved now: this request's load, else one GetItem, says so.

    For the sign-in forms' POSTs only; ordinary pages never pay for the probe.
    """
    if not isinstance(session, ServerSession):
        return True  # cookie sessions (SESSION_BACKEND=cookie) need no store
    if session.unavailable:
        return False
    try:
        storage.probe()
    except UNAVAILABLE:
        log.warning("sessions unavailable: sign-in refused until they are back", exc_info=True)
        return False
    return True


def is_expired(stored: storage.StoredSession, config: dict[str, Any], now: float) -> bool:
    """Past the TTL, idle too long, or older than the absolute limit."""
    return (
        stored.expires_at <= now
        or now - stored.last_seen >= config["SESSION_IDLE_SECONDS"]
        or now - stored.created_at >= config["SESSION_ABSOLUTE_SECONDS"]
    )


def deadline(created_at: int, last_seen: int, config: dict[str, Any]) -> int:
    return min(
        last_seen + config["SESSION_IDLE_SECONDS"], created_at + config["SESSION_ABSOLUTE_SECONDS"]
    )


class DynamoSessionInterface(SessionInterface):
    """Flask's session interface over ``bellyfed.dynamo.sessions``."""

    def get_cookie_name(self, app: Flask) -> str:
        return "__Host-session" if app.config["SESSION_COOKIE_SECURE"] else "session"

    def open_session(self, app: Flask, request: Request) -> ServerSession:
        if request.path.startswith(API_PREFIX):
            # The API authenticates by bearer token only: a browser's cookie is not even read,
            # and the response must not touch (or end) the browser's session.
            detached = ServerSession()
            detached.detached = True
            return detached
        session_id = request.cookies.get(self.get_cookie_name(app))
        if not session_id:
            return ServerSession()
        try:
            stored = storage.load(session_id)
        except UNAVAILABLE:
            log.warning("sessions unavailable: serving the request signed out", exc_info=True)
            empty = ServerSession()
            empty.unavailable = True
            return empty
        if stored is None or is_expired(stored, app.config, time.time()):
            return ServerSession()
        return ServerSession(serializer.loads(stored.data), stored)

    def save_session(self, app: Flask, session: ServerSession, response: Response) -> None:
        name = self.get_cookie_name(app)
        had_cookie = name in request.cookies
        if session.detached:
            return
        if session.unavailable and not session.modified:
            return  # keep the cookie: the session may still be there once DynamoDB is back
        try:
            if not session:
                self._forget(app, session, response, had_cookie)
            elif session.modified or session.id is None:
                self._write(app, session, response)
            else:
                self._touch(app, session)
        except UNAVAILABLE:
            log.warning("sessions unavailable: the session was not saved", exc_info=True)
        if had_cookie or session:
            response.vary.add("Cookie")

    def _forget(
        self, app: Flask, session: ServerSession, response: Response, had_cookie: bool
    ) -> None:
        """An emptied session: its item goes, and so does the cookie."""
        for session_id in {session.replaces, session.stored.id if session.stored else None}:
            if session_id:
                storage.delete(session_id)
        if had_cookie:
            response.delete_cookie(
                self.get_cookie_name(app), path="/", secure=self.get_cookie_secure(app),
                httponly=True, samesite=self.get_cookie_samesite(app),
            )  # fmt: skip

    def _write(self, app: Flask, session: ServerSession, response: Response) -> None:
        now = int(time.time())
        rotated = session.id is None
        created_at = now if rotated or session.stored is None else session.stored.created_at
        user_id = _owner(session)
        stored = storage.StoredSession(
            id=session.id or new_id(),
            data=serializer.dumps(dict(session)),
            user_id=user_id,
            created_at=created_at,
            last_seen=now,
            expires_at=deadline(created_at, now, app.config),
            user_agent=_user_agent(),
        )
        existing = not rotated and session.stored is not None
        if not storage.save(stored, replaces=session.replaces, existing=existing):
            # Ended while this request ran: it stays ended, and this browser forgets it.
            self._forget(app, ServerSession(), response, had_cookie=True)
            return
        session.id, session.stored, session.replaces = stored.id, stored, None
        if rotated:
            response.set_cookie(
                self.get_cookie_name(app), stored.id,
                expires=created_at + app.config["SESSION_ABSOLUTE_SECONDS"], path="/",
                secure=self.get_cookie_secure(app), httponly=True,
                samesite=self.get_cookie_samesite(app),
            )  # fmt: skip

    def _touch(self, app: Flask, session: ServerSession) -> None:
        """Slide the idle deadline, at most once a minute per session."""
        stored = session.stored
        now = int(time.time())
        if stored is None or now - stored.last_seen < TOUCH_SECONDS:
            return
        storage.touch(stored.id, now, deadline(stored.created_at, now, app.config))


def _owner(session: ServerSession) -> int | None:
    """The account a session is filed under: who is signed in, or who is half-way through a
    two-step log-in (so ending the account's sessions ends that one too)."""
    user_id = session.get("_user_id")
    if user_id is None:
        pending = session.get(PENDING_LOGIN_KEY)
        user_id = pending.get("user") if isinstance(pending, dict) else None
    return int(user_id) if user_id is not None and str(user_id).isdigit() else None


def _user_agent() -> str:
    return request.headers.get("User-Agent", "")[: storage.USER_AGENT_CHARS]


# The account page's list of a user's sessions.

BROWSERS = (("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"),
            ("Safari/", "Safari"))  # fmt: skip
SYSTEMS = (("iPhone", "iPhone"), ("iPad", "iPad"), ("Android", "Android"), ("Windows", "Windows"),
           ("Mac OS X", "macOS"), ("Linux", "Linux"))  # fmt: skip


def device(user_agent: str) -> str:
    """ "Firefox on Windows" from a user agent, or a plain fallback."""
    browser = next((name for mark, name in BROWSERS if mark in user_agent), None)
    system = next((name for mark, name in SYSTEMS if mark in user_agent), None)
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or "Unknown device"


def ago(seconds: float) -> str:
    """ "just now", "5 min ago", "3 h ago" (sessions live 12 hours at most)."""
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    return f"{int(seconds // 3600)} h ago"


def active_sessions(user_id: int) -> list[dict[str, Any]]:
    """The user's unexpired sessions, most recently seen first, the current one marked."""
    now = time.time()
    current = session.id if isinstance(session, ServerSession) else None
    rows = [
        {
            "handle": handle(s.id),
            "device": device(s.user_agent),
            "last_seen": s.last_seen,
            "seen": ago(now - s.last_seen),
            "current": s.id == current,
        }
        for s in storage.for_user(user_id)
        if not is_expired(s, current_app.config, now)
    ]
    return sorted(rows, key=lambda row: (not row["current"], -row["last_seen"]))


def end_sessions(user_id: int, *, only: str | None = None, keep_current: bool = False) -> int:
    """End the user's sessions: the one named by ``only`` (a handle), or all (but this one)."""
    current = session.id if isinstance(session, ServerSession) else None
    ids = [
        s.id for s in storage.for_user(user_id)
        if (only is None or handle(s.id) == only) and not (keep_current and s.id == current)
    ]  # fmt: skip
    storage.delete_many(ids)
    return len(ids)
