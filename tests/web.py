"""Driving the app like a browser: a client with a fresh app context per request, CSRF tokens
taken from pages, and logging in through the real form."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from flask.testing import FlaskClient
from sqlalchemy import event
from werkzeug.test import TestResponse

from bellyfed.extensions import db
from tests.factories import TEST_PASSWORD

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
    """Sign in through the login form."""
    response = post(client, "/auth/login", {"identifier": username, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]


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
