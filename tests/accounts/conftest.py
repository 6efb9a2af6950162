"""Account tests drive the pages like a browser: each request in its own app context."""

from __future__ import annotations

import pytest
from flask import Flask

from tests.accounts.support import attempt_login
from tests.factories import UserFactory
from tests.web import BrowserClient


@pytest.fixture
def client(app: Flask, db_session, redis_client) -> BrowserClient:
    """A browser on a clean slate: no cookies, no login failures counted in Redis."""
    return BrowserClient(app, app.response_class, use_cookies=True)


@pytest.fixture
def diner(client):
    """Siti, logged in on ``client``."""
    user = UserFactory(username="siti", display_name="Siti", bio="Hawker fan")
    assert attempt_login(client, "siti").status_code == 302
    return user
