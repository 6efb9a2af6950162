"""Account-specific steps on top of tests/web.py: log-in attempts that may fail, the settings forms."""

from __future__ import annotations

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.factories import TEST_PASSWORD
from tests.web import csrf_token, post


def attempt_login(
    client: FlaskClient, identifier: str, password: str = TEST_PASSWORD, **kw
) -> TestResponse:
    """Submit the log-in form and return whatever came back (tests/web.log_in insists on success)."""
    return post(client, "/auth/login", {"identifier": identifier, "password": password}, **kw)


def log_out(client: FlaskClient) -> TestResponse:
    """Log out with the nav's form."""
    return post(client, "/auth/logout")


def save_settings(client: FlaskClient, section: str, fields: dict, **kw) -> TestResponse:
    """POST one of the account page's two forms, with its field prefix and CSRF token."""
    data = {f"{section}-{name}": value for name, value in fields.items()}
    data.update({"section": section, f"{section}-csrf_token": csrf_token(client)})
    return client.post("/account", data=data, **kw)
