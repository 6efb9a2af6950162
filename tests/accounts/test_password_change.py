"""Changing the password while signed in: the current one first, the sign-up rules for the new
one, every other session and API token ended, and an email to say it changed (ASVS 2.1.5, 2.1.6,
2.2.3, 3.3.3). Real PostgreSQL, Redis and DynamoDB (moto's server)."""

from __future__ import annotations

import html

import pytest
from botocore.exceptions import EndpointConnectionError

from bellyfed.accounts import password_change
from bellyfed.accounts import tokens as api_tokens
from bellyfed.core.mail import Message
from tests.accounts.support import attempt_login
from tests.accounts.test_sessions import cookie_id
from tests.factories import TEST_PASSWORD
from tests.web import BrowserClient, post, text

NEW_PASSWORD = "a whole new bowl of laksa"


@pytest.fixture
def outbox(app, monkeypatch) -> list[Message]:
    monkeypatch.setitem(app.extensions, "outbox", [])
    return app.extensions["outbox"]


def change(client, current: str = TEST_PASSWORD, password: str = NEW_PASSWORD,
           confirm: str | None = None):  # fmt: skip
    data = {"current": current, "password": password,
            "confirm": password if confirm is None else confirm}  # fmt: skip
    return post(client, "/account/password", data)


def page(response) -> str:
    return html.unescape(text(response))


def can_log_in(app, password: str) -> bool:
    browser = BrowserClient(app, app.response_class, use_cookies=True)
    return attempt_login(browser, "siti", password).status_code == 302


def test_the_page_needs_a_login(client):
    response = client.get("/account/password")
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/login?next=/account/password"


def test_a_change_keeps_this_browser_and_ends_every_other_access(app, client, diner, outbox):
    assert 'href="/account/password">Change your password</a>' in text(client.get("/account"))
    form = client.get("/account/password")
    assert form.status_code == 200
    assert form.headers["Cache-Control"] == "no-store"
    assert 'autocomplete="current-password"' in text(form)
    with app.app_context():
        secret, _ = api_tokens.create(diner, "cron", 30)
    elsewhere = BrowserClient(app, app.response_class, use_cookies=True)
    assert attempt_login(elsewhere, "siti").status_code == 302
    before = cookie_id(client)

    saved = change(client)

    assert saved.status_code == 302
    assert saved.headers["Location"] == "/account"
    assert "Your password is changed. You're still logged in here" in page(client.get("/account"))
    assert cookie_id(client) not in (None, before)  # a new session id
    assert client.get("/account").status_code == 200
    assert elsewhere.get("/account").status_code == 302  # logged out there
    with app.app_context():
        assert api_tokens.authenticate(secret) is None
    assert can_log_in(app, NEW_PASSWORD)
    assert not can_log_in(app, TEST_PASSWORD)
    [email] = outbox
    assert email.to == diner.email
    assert email.subject == "Your Bellyfed password was changed"
    assert "If it wasn't, someone else may know your password" in email.body
    assert "http://localhost/auth/forgot" in email.body


@pytest.mark.parametrize(
    ("current", "password", "confirm", "message"),
    [
        ("not my password at all", NEW_PASSWORD, None, "That isn't your current password."),
        ("", NEW_PASSWORD, None, "Enter your current password."),
        (TEST_PASSWORD, "short one", None, "Use at least 12 characters"),
        (TEST_PASSWORD, "password1234", None, "on a list of passwords that attackers try first"),
        (TEST_PASSWORD, NEW_PASSWORD, "something else entirely", "The two passwords don't match."),
        (TEST_PASSWORD, TEST_PASSWORD, None, "That is your current password"),
        (TEST_PASSWORD, "siti12345678", None, "Don't use your username or email"),
        (TEST_PASSWORD, "x" * 129, None, "Keep it to 128 characters or fewer."),
    ],
)
def test_bad_input_is_explained_and_changes_nothing(
    app, client, diner, outbox, current, password, confirm, message
):
    response = change(client, current, password, confirm)
    assert response.status_code == 422
    assert message in page(response)
    assert outbox == []
    assert can_log_in(app, TEST_PASSWORD)
    assert client.get("/account").status_code == 200  # still signed in


def test_wrong_current_passwords_count_with_failed_logins(client, diner):
    for _ in range(5):
        assert change(client, current="a wrong guess here").status_code == 422
    refused = change(client)  # even the right one, once the account is locked
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0


def test_dynamodb_failing_while_saving_is_a_503_and_the_password_is_unchanged(
    app, client, diner, outbox, monkeypatch
):
    def sessions_unreachable(*args, **kwargs):
        raise EndpointConnectionError(endpoint_url="http://127.0.0.1:1")

    monkeypatch.setattr(password_change, "end_sessions", sessions_unreachable)
    response = change(client)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "60"
    assert "your password is unchanged" in page(response)
    assert outbox == []
    assert can_log_in(app, TEST_PASSWORD)
    monkeypatch.undo()
    assert change(client).status_code == 302  # once it is back, the same form goes through
