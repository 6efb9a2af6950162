"""API tests: a client without cookies, and API tokens made the way account settings make them."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask

from bellyfed.accounts import tokens
from bellyfed.accounts.models import User
from tests.web import BrowserClient


@pytest.fixture
def api(app: Flask, db_session, redis_client) -> BrowserClient:
    """A client the way a script calls the API: no cookies, each request in its own context."""
    return BrowserClient(app, app.response_class, use_cookies=False)


@pytest.fixture
def token_for(app: Flask, db_session) -> Callable[[User], dict[str, str]]:
    """``token_for(user)``: headers carrying a fresh API token of that user."""

    def make(user: User) -> dict[str, str]:
        db_session.flush()
        with app.app_context():
            secret, _ = tokens.create(user, "tests", 30)
        return {"Authorization": f"Bearer {secret}"}

    return make


def problem(response) -> dict:
    """The problem document of an error response (and check it is one)."""
    assert response.content_type == "application/problem+json", response.get_data(as_text=True)
    body = response.get_json(force=True)
    assert body["status"] == response.status_code
    assert body["detail"]
    return body
