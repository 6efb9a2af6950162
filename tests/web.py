"""Driving the app like a browser: a client with a fresh app context per request, CSRF tokens
taken from pages, and logging in through the real form."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import pyotp
from flask.testing import FlaskClient
from sqlalchemy import event, select, update
from werkzeug.test import TestResponse

from bellyfed.accounts.models import TwoFactor, User
from bellyfed.extensions import db
from tests.factories import TEST_PASSWORD, TEST_TOTP_SECRET

TOKEN = re.compile(r'"X-CSRFToken": "([^"]+)"|name="csrf_token" type="hidden" value="([^"]+)"')


class BrowserClient(FlaskClient):
    """Each request in its own app context, as in production, so nothing leaks through ``g``."""

    def open(self, *args: object, **kwargs: object) -> TestResponse:
        with self.application.app_context():
            return super().open(*args, **kwargs)


def csrf_token(client: FlaskClient, path: str | None = None) -> str:
    """The CSRF token a browser would find on ``path``; by default on "/", which carries one only
    for signed-in users, else on the log-in form's page."""
    match = TOKEN.search(client.get(path or "/").get_data(as_text=True))
    if match is None and path is None:
        path = "/auth/login"
        match = TOKEN.search(client.get(path).get_data(as_text=True))
    assert match, f"no CSRF token on {path}"
    return match.group(1) or match.group(2)


def post(
    client: FlaskClient, url: str, data: dict | None = None, *, htmx: bool = False, **kw
) -> TestResponse:
    """POST with the session's CSRF token, as a form or (``htmx``) as HTMX sends it."""
    token = csrf_token(client)
    headers = kw.pop("headers", {})
    if htmx:
        headers = {"HX-Request": "true", "X-CSRFToken": token, **headers}
        return client.post(url, data=data or {}, headers=headers, **kw)
    return client.post(url, data={"csrf_token": token, **(data or {})}, headers=headers, **kw)


def log_in(client: FlaskClient, username: str, password: str = TEST_PASSWORD) -> None:
    """Sign in through the login form, and its second step for an account with two-step
    sign-in on (operators: see ``UserFactory.two_factor``)."""
    response = post(client, "/auth/login", {"identifier": username, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    if response.headers["Location"] == "/auth/two-factor":
        code = totp_code(username)
        response = post(client, "/auth/two-factor", {"code": code})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]


def totp_code(username: str, secret: str = TEST_TOTP_SECRET) -> str:
    """The authenticator app's code now, for a user whose app has ``secret``. A code works once
    per 30-second step, so the user's last accepted step is reset first: tests log the same
    operator in more often than a person could."""
    user_id = db.session.scalar(select(User.id).where(User.username == username))
    db.session.execute(update(TwoFactor).where(TwoFactor.user_id == user_id).values(last_step=0))
    db.session.flush()
    return pyotp.TOTP(secret).now()


def text(response: TestResponse) -> str:
    return response.get_data(as_text=True)


@contextmanager
def count_statements() -> Iterator[list[str]]:
    """Collect the SQL statements run inside the block (to catch N+1 queries)."""
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
            statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
