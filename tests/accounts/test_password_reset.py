"""Password reset: ask, get an email with a one-use link, choose a new password; everything that
the old password opened is closed. Real PostgreSQL, Redis and DynamoDB (moto's server)."""

from __future__ import annotations

import html
import logging
import re

import pytest

from bellyfed.accounts import password_reset, throttle
from bellyfed.accounts import tokens as api_tokens
from bellyfed.core.mail import Message
from bellyfed.dynamo import tokens as storage
from tests.accounts.support import attempt_login
from tests.accounts.test_token_store import expire, stored_item
from tests.conftest import free_port
from tests.factories import TEST_PASSWORD, UserFactory
from tests.web import BrowserClient, post, text

NEW_PASSWORD = "a whole new bowl of laksa"
SENT = (
    "If there's an account for that, we've sent an email with a link to choose a new password. "
    "The link works once, within 30 minutes."
)
EXPIRED = "This link has expired or was already used"
LINK = re.compile(r"^http://localhost(/auth/reset/([A-Za-z0-9_-]{43,}))$", re.MULTILINE)


def page(response) -> str:
    return html.unescape(text(response))


@pytest.fixture
def outbox(app, monkeypatch) -> list[Message]:
    """The memory backend's outbox, empty for this test."""
    monkeypatch.setitem(app.extensions, "outbox", [])
    return app.extensions["outbox"]


def ask(client, identifier: str, **kw):
    return post(client, "/auth/forgot", {"identifier": identifier}, **kw)


def link_in(message: Message) -> str:
    """The path of the reset link in an email."""
    match = LINK.search(message.body)
    assert match, message.body
    return match.group(1)


def secret_of(path: str) -> str:
    return path.rsplit("/", 1)[1]


def choose(client, path: str, password: str = NEW_PASSWORD, confirm: str | None = None):
    data = {"password": password, "confirm": password if confirm is None else confirm}
    return post(client, path, data)


def emailed_link(client, outbox, identifier: str = "siti") -> str:
    ask(client, identifier)
    return link_in(outbox[-1])


@pytest.fixture
def siti(db_session):
    return UserFactory(username="siti", email="siti@example.com", display_name="Siti Nurhaliza")


def test_the_login_page_offers_a_reset(client):
    assert 'href="/auth/forgot">Forgot your password?</a>' in text(client.get("/auth/login"))


def test_the_whole_flow_from_asking_to_logging_in_with_the_new_password(client, siti, outbox):
    form = client.get("/auth/forgot")
    assert form.status_code == 200
    assert '<label for="identifier">Username or email</label>' in text(form)

    answer = ask(client, "Siti@Example.com")
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/auth/login"
    assert SENT in page(client.get("/auth/login"))

    [email] = outbox
    assert email.to == "siti@example.com"
    assert email.subject == "Choose a new Bellyfed password"
    assert email.body.startswith("Hi Siti Nurhaliza,")
    assert "The link works once, within 30 minutes." in email.body
    assert (
        "If you didn't ask for this, ignore this email: your password is unchanged." in email.body
    )
    path = link_in(email)

    opened = client.get(path)
    assert opened.status_code == 200
    assert '<label for="password">New password</label>' in text(opened)
    assert '<label for="confirm">Repeat it</label>' in text(opened)

    saved = choose(client, path)
    assert saved.status_code == 302
    assert saved.headers["Location"] == "/auth/login"
    assert "Your password is changed and you're logged out everywhere." in page(
        client.get("/auth/login")
    )
    assert attempt_login(client, "siti", TEST_PASSWORD).status_code == 200  # refused
    assert attempt_login(client, "siti", NEW_PASSWORD).status_code == 302
    assert client.get("/account").status_code == 200


def test_an_unknown_or_inactive_account_gets_the_same_answer_and_no_email(client, siti, outbox):
    UserFactory(username="gone", is_active=False)
    answers = [ask(client, name) for name in ("nobody", "nobody@example.com", "gone", "siti")]

    assert {(a.status_code, a.headers["Location"]) for a in answers} == {(302, "/auth/login")}
    assert [m.to for m in outbox] == ["siti@example.com"]


def test_an_empty_request_shows_an_error_and_sends_nothing(client, siti, outbox):
    response = ask(client, "  ")
    assert response.status_code == 200
    assert "Enter your username or email." in text(response)
    assert outbox == []


def test_a_link_works_once(client, siti, outbox):
    path = emailed_link(client, outbox)
    assert choose(client, path).status_code == 302

    for response in (client.get(path), choose(client, path, "yet another long password")):
        assert response.status_code == 410
        assert EXPIRED in text(response)
        assert 'href="/auth/forgot"' in text(response)
    assert attempt_login(client, "siti", NEW_PASSWORD).status_code == 302


def test_an_expired_link_is_refused_though_still_stored(app, client, siti, outbox):
    path = emailed_link(client, outbox)
    token_id = storage.digest(secret_of(path))
    with app.app_context():
        expire(token_id)

    assert client.get(path).status_code == 410
    refused = choose(client, path)
    assert refused.status_code == 410
    assert EXPIRED in text(refused)
    with app.app_context():
        assert stored_item(token_id) is not None
    assert attempt_login(client, "siti", TEST_PASSWORD).status_code == 302  # unchanged


def test_a_made_up_link_is_refused(client, siti):
    response = client.get("/auth/reset/not-a-real-secret")
    assert response.status_code == 410
    assert EXPIRED in text(response)


@pytest.mark.parametrize(
    ("password", "confirm", "error"),
    [
        (NEW_PASSWORD, NEW_PASSWORD + "!", "The two passwords don't match."),
        ("too short", "too short", "Use at least 12 characters; a short phrase works well."),
        ("", "", "Choose a new password."),
    ],
)
def test_a_bad_new_password_shows_errors_and_keeps_the_link(
    app, client, siti, outbox, password, confirm, error
):
    path = emailed_link(client, outbox)

    response = choose(client, path, password, confirm)

    assert response.status_code == 200
    assert error in page(response)
    with app.app_context():
        assert storage.find(secret_of(path), "reset") is not None
    assert choose(client, path).status_code == 302  # the link still works
    assert attempt_login(client, "siti", NEW_PASSWORD).status_code == 302


def test_the_pages_behind_the_link_keep_the_secret_out_of_referers_and_caches(client, siti, outbox):
    path = emailed_link(client, outbox)
    responses = [
        client.get(path),
        choose(client, path, "short", "short"),
        choose(client, path),
        client.get(path),  # used up
        client.get("/auth/reset/unknown"),
    ]
    assert [r.status_code for r in responses] == [200, 200, 302, 410, 410]
    for response in responses:
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["Cache-Control"] == "no-store"


def test_a_reset_logs_out_everywhere_and_ends_api_tokens_and_other_links(
    app, client, diner, outbox
):
    with app.app_context():
        secret, _ = api_tokens.create(diner, "cron", 30)
        assert api_tokens.authenticate(secret) is not None
    elsewhere = BrowserClient(app, app.response_class, use_cookies=True)
    older = emailed_link(elsewhere, outbox)
    path = emailed_link(elsewhere, outbox)

    assert choose(elsewhere, path).status_code == 302

    assert client.get("/account").status_code == 302  # the session on `client` is gone
    with app.app_context():
        assert api_tokens.authenticate(secret) is None
        assert storage.for_user(diner.id, "reset") == []
    assert elsewhere.get(older).status_code == 410


def test_a_logged_in_diner_can_reset_too_and_is_logged_out(app, client, diner, outbox):
    form = text(client.get("/auth/forgot"))
    assert 'value="siti"' in form  # prefilled with who is logged in

    path = emailed_link(client, outbox)
    assert client.get(path).status_code == 200
    assert choose(client, path).status_code == 302

    assert client.get("/account").status_code == 302
    assert attempt_login(client, "siti", NEW_PASSWORD).status_code == 302


def test_a_reset_clears_the_login_failures_of_the_account(client, siti, outbox):
    for _ in range(throttle.MAX_FAILURES_PER_ACCOUNT):
        attempt_login(client, "siti", "a wrong guess, again")
    assert attempt_login(client, "siti").status_code == 429

    assert choose(client, emailed_link(client, outbox)).status_code == 302

    assert attempt_login(client, "siti", NEW_PASSWORD).status_code == 302


def test_an_account_gets_at_most_three_emails_an_hour(client, siti, outbox, redis_client):
    answers = [ask(client, name) for name in ("siti", "siti@example.com", "SITI", "siti")]

    assert {(a.status_code, a.headers["Location"]) for a in answers} == {(302, "/auth/login")}
    assert len(outbox) == password_reset.MAX_EMAILS_PER_ACCOUNT == 3
    assert 3500 < redis_client.ttl(f"reset:sent:user:{siti.id}") <= 3600


def test_an_address_asking_too_often_is_told_to_wait(client, siti, outbox, monkeypatch):
    monkeypatch.setattr(password_reset, "MAX_ASKS_PER_ADDRESS", 2)
    assert ask(client, "nobody").status_code == 302
    assert ask(client, "someone").status_code == 302

    refused = ask(client, "siti")

    assert refused.status_code == 429
    assert "Too many reset requests from your network. Try again in 60 minutes." in text(refused)
    assert 3500 < int(refused.headers["Retry-After"]) <= 3600
    assert outbox == []
    other_network = {"environ_base": {"REMOTE_ADDR": "10.1.2.3"}}
    assert ask(client, "siti", **other_network).status_code == 302
    assert len(outbox) == 1


def test_asking_still_works_when_redis_is_down(app, client, siti, outbox, monkeypatch, caplog):
    monkeypatch.setitem(app.config, "REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    monkeypatch.setitem(app.extensions, "redis", None)

    with caplog.at_level(logging.WARNING, logger="bellyfed.accounts.password_reset"):
        answer = ask(client, "siti")

    assert answer.status_code == 302
    assert len(outbox) == 1
    assert "Password reset limits are off: Redis is unavailable" in caplog.text
    assert choose(client, link_in(outbox[0])).status_code == 302


def test_a_mail_server_outage_does_not_reveal_the_account(app, client, siti, monkeypatch, caplog):
    for name, value in (("MAIL_BACKEND", "smtp"), ("MAIL_HOST", "127.0.0.1"),
                        ("MAIL_PORT", free_port()), ("MAIL_STARTTLS", False)):  # fmt: skip
        monkeypatch.setitem(app.config, name, value)

    with caplog.at_level(logging.ERROR, logger="bellyfed.accounts.password_reset"):
        known, unknown = ask(client, "siti"), ask(client, "nobody")

    assert (known.status_code, known.headers["Location"]) == (302, "/auth/login")
    assert (unknown.status_code, unknown.headers["Location"]) == (302, "/auth/login")
    assert f"Could not send a password reset link to user {siti.id}" in caplog.text
