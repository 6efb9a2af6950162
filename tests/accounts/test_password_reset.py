"""Password reset: ask, get an email with a one-use link, choose a new password; everything that
the old password opened is closed. Real PostgreSQL, Redis, DynamoDB (moto's server) and Celery
messages in the Redis broker."""

from __future__ import annotations

import html
import logging
import re

import pytest
from botocore.exceptions import EndpointConnectionError
from sqlalchemy.exc import OperationalError

from bellyfed.accounts import password_reset, throttle
from bellyfed.accounts import tokens as api_tokens
from bellyfed.core.mail import Message
from bellyfed.dynamo import sessions as session_storage
from bellyfed.dynamo import tokens as storage
from bellyfed.extensions import db
from tests.accounts.support import attempt_login
from tests.accounts.test_sessions import dynamodb_down
from tests.accounts.test_token_store import expire, stored_item
from tests.conftest import free_port
from tests.core.test_mail import queued
from tests.factories import TEST_PASSWORD, UserFactory
from tests.web import BrowserClient, count_statements, csrf_token, post, text
from worker import tasks

NEW_PASSWORD = "a whole new bowl of laksa"
SENT = (
    "If there's an account for that, we've sent an email with a link to choose a new password. "
    "The link works once, within 30 minutes."
)
EXPIRED = "This link has expired or was already used"
UNAVAILABLE = "Password resets are briefly unavailable"
NOT_FINISHED = "We couldn't finish changing your password"
LINK = re.compile(r"^http://localhost(/auth/reset/([A-Za-z0-9_-]{43,}))$", re.MULTILINE)


def page(response) -> str:
    return html.unescape(text(response))


@pytest.fixture
def outbox(app, monkeypatch) -> list[Message]:
    """The memory backend's outbox, empty for this test."""
    monkeypatch.setitem(app.extensions, "outbox", [])
    return app.extensions["outbox"]


@pytest.fixture
def via_worker(app, monkeypatch) -> None:
    """As in production: the request only queues, a worker does the rest."""
    monkeypatch.setitem(app.config, "MAIL_VIA_WORKER", True)


def ask(client, identifier: str, **kw):
    return post(client, "/auth/forgot", {"identifier": identifier}, **kw)


def link_in(message: Message) -> str:
    """The path of the reset link in an email."""
    match = LINK.search(message.body)
    assert match, message.body
    return match.group(1)


def secret_of(path: str) -> str:
    return path.rsplit("/", 1)[1]


def follow(client, path: str):
    """Open the emailed link: the secret goes into the session, the browser to /auth/reset."""
    response = client.get(path)
    assert response.status_code == 303, text(response)[:500]
    assert response.headers["Location"] == "/auth/reset"
    return response


def choose(client, password: str = NEW_PASSWORD, confirm: str | None = None):
    data = {"password": password, "confirm": password if confirm is None else confirm}
    return post(client, "/auth/reset", data)


def emailed_link(client, outbox, identifier: str = "siti") -> str:
    ask(client, identifier)
    return link_in(outbox[-1])


def opened_link(client, outbox, identifier: str = "siti") -> str:
    """Ask for a link and follow it: the form is ready at /auth/reset. Returns the link."""
    path = emailed_link(client, outbox, identifier)
    follow(client, path)
    return path


def endpoint_down(*args, **kwargs):
    raise EndpointConnectionError(endpoint_url="http://127.0.0.1:1")


def run_task(app, name: str, args: list):
    """What a worker does with a queued message: run the registered task (in an app context)."""
    result = app.extensions["celery"].tasks[name].apply(args=args)
    assert result.successful(), result.traceback
    return result.result


def can_log_in(app, password: str) -> bool:
    """Whether Siti's password is ``password``, asked from a browser of its own."""
    browser = BrowserClient(app, app.response_class, use_cookies=True)
    return attempt_login(browser, "siti", password).status_code == 302


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

    follow(client, path)
    opened = client.get("/auth/reset")
    assert opened.status_code == 200
    assert '<label for="password">New password</label>' in text(opened)
    assert '<label for="confirm">Repeat it</label>' in text(opened)

    saved = choose(client)
    assert saved.status_code == 302
    assert saved.headers["Location"] == "/auth/login"
    notice = outbox[-1]  # the owner is told the password changed (ASVS 2.2.3)
    assert (notice.to, notice.subject) == ("siti@example.com", "Your Bellyfed password was changed")
    assert "Your password is changed and you're logged out everywhere." in page(
        client.get("/auth/login")
    )
    assert attempt_login(client, "siti", TEST_PASSWORD).status_code == 200  # refused
    assert attempt_login(client, "siti", NEW_PASSWORD).status_code == 302
    assert client.get("/account").status_code == 200


def test_the_secret_leaves_the_url_at_once_and_stays_server_side(client, siti, outbox):
    path = emailed_link(client, outbox)
    secret = secret_of(path)

    moved = follow(client, path)
    form = client.get("/auth/reset")

    assert secret not in moved.headers["Location"]
    assert '<form method="post" action="/auth/reset">' in text(form)
    assert secret not in text(form)
    for response in (moved, form):
        assert secret not in str(response.headers)  # the cookie holds a session id, no more
    assert choose(client).status_code == 302


def test_a_form_shown_at_the_old_address_moves_on_too(client, siti, outbox):
    path = emailed_link(client, outbox)  # a page rendered before the move posts to the link
    moved = post(client, path, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert (moved.status_code, moved.headers["Location"]) == (303, "/auth/reset")
    assert client.get("/auth/reset").status_code == 200
    assert choose(client).status_code == 302


def test_an_unknown_or_inactive_account_gets_the_same_answer_and_no_email(client, siti, outbox):
    UserFactory(username="gone", is_active=False)
    answers = [ask(client, name) for name in ("nobody", "nobody@example.com", "gone", "siti")]

    assert {(a.status_code, a.headers["Location"]) for a in answers} == {(302, "/auth/login")}
    assert [m.to for m in outbox] == ["siti@example.com"]


def test_the_request_does_the_same_work_for_any_account_and_the_task_the_lookup(
    app, client, siti, outbox, redis_client, via_worker
):
    token = csrf_token(client, "/auth/forgot")
    answers, statements = [], []
    for identifier in (" Siti@Example.COM ", "nobody"):
        with count_statements() as sql:
            response = client.post(
                "/auth/forgot", data={"csrf_token": token, "identifier": identifier}
            )
        answers.append((response.status_code, response.headers["Location"]))
        statements.append(sql)

    assert answers == [(302, "/auth/login")] * 2
    assert statements == [[], []]  # no lookup in the request: not a single query
    # One message each, alike but for the identifier (normalized) and nothing account-specific
    # done yet: no token stored, no per-account count, no email.
    messages = queued(redis_client)[::-1]  # oldest first: kombu pushes on the left
    assert messages == [
        ("worker.tasks.send_password_reset", ["siti@example.com", "http://localhost/"]),
        ("worker.tasks.send_password_reset", ["nobody", "http://localhost/"]),
    ]
    assert redis_client.keys("reset:*") == [b"reset:asked:address:127.0.0.1"]
    with app.app_context():
        assert storage.for_user(siti.id, "reset") == []
    assert outbox == []

    # The worker: the task for Siti stores a link and queues its email; the other does nothing.
    redis_client.delete("celery")
    (_, siti_args), (_, nobody_args) = messages
    assert run_task(app, "worker.tasks.send_password_reset", nobody_args) is False
    assert queued(redis_client) == []
    assert run_task(app, "worker.tasks.send_password_reset", siti_args) is True
    [(name, args)] = queued(redis_client)
    assert name == "worker.tasks.send_email"
    run_task(app, name, args)
    [email] = outbox
    assert email.to == "siti@example.com"
    assert redis_client.get(f"reset:sent:user:{siti.id}") == b"1"

    follow(client, link_in(email))
    assert choose(client).status_code == 302
    assert can_log_in(app, NEW_PASSWORD)


def test_the_reset_task_retries_what_may_pass(app):
    task = app.extensions["celery"].tasks[tasks.send_password_reset.name]
    assert issubclass(EndpointConnectionError, task.autoretry_for)
    assert task.max_retries == tasks.RETRY["max_retries"]


@pytest.mark.parametrize(
    ("url_root", "prefix"),
    [
        ("https://bellyfed.example/", "https://bellyfed.example/auth/reset/"),
        ("http://localhost:8000/app/", "http://localhost:8000/app/auth/reset/"),
    ],
)
def test_the_task_builds_the_link_on_the_host_the_request_came_to(
    app, siti, outbox, url_root, prefix
):
    with app.app_context():
        assert password_reset.send_link("siti", url_root) is True
    [email] = outbox
    [link] = [line for line in email.body.splitlines() if "/auth/reset/" in line]
    assert link.startswith(prefix)
    assert len(link.removeprefix(prefix)) >= 43


def test_a_broker_outage_gives_the_same_answer_for_every_account(
    app, client, siti, outbox, redis_client, via_worker, monkeypatch, caplog
):
    celery = app.extensions["celery"]
    # A producer pool made afresh reaches for a broker nobody listens on (undone after the test).
    monkeypatch.setitem(celery.conf, "broker_url", f"redis://127.0.0.1:{free_port()}/0")
    monkeypatch.setattr(celery.amqp, "_producer_pool", None)

    with caplog.at_level(logging.ERROR, logger="bellyfed.accounts.password_reset"):
        answers = [ask(client, name) for name in ("siti", "nobody")]

    assert [(a.status_code, a.headers["Location"]) for a in answers] == [(302, "/auth/login")] * 2
    assert SENT in page(client.get("/auth/login"))
    queue_errors = [r for r in caplog.records if "Could not queue a password reset" in r.message]
    assert len(queue_errors) == 2
    assert queued(redis_client) == []
    assert outbox == []


def test_an_unexpected_error_while_sending_inline_gives_the_same_answer(
    client, siti, outbox, monkeypatch, caplog
):
    def broken(*args, **kwargs):
        raise RuntimeError("no link for you")

    monkeypatch.setattr(password_reset, "_external_link", broken)
    with caplog.at_level(logging.ERROR, logger="bellyfed.accounts.password_reset"):
        known, unknown = ask(client, "siti"), ask(client, "nobody")

    assert (known.status_code, known.headers["Location"]) == (302, "/auth/login")
    assert (unknown.status_code, unknown.headers["Location"]) == (302, "/auth/login")
    assert "A password reset request failed" in caplog.text
    assert outbox == []


def test_an_empty_request_shows_an_error_and_sends_nothing(client, siti, outbox, redis_client):
    response = ask(client, "  ")
    assert response.status_code == 200
    assert "Enter your username or email." in text(response)
    assert outbox == []
    assert queued(redis_client) == []


def test_a_link_works_once(app, client, siti, outbox):
    path = emailed_link(client, outbox)
    other = BrowserClient(app, app.response_class, use_cookies=True)
    follow(client, path)
    follow(other, path)  # a second browser opens the same link before it is used
    assert other.get("/auth/reset").status_code == 200

    assert choose(client).status_code == 302

    for response in (
        client.get(path),
        client.get("/auth/reset"),
        choose(client, "yet another long password"),
        choose(other, "yet another long password"),
    ):
        assert response.status_code == 410
        assert EXPIRED in text(response)
        assert 'href="/auth/forgot"' in text(response)
    assert can_log_in(app, NEW_PASSWORD)


def test_an_expired_link_is_refused_though_still_stored(app, client, siti, outbox):
    path = opened_link(client, outbox)
    token_id = storage.digest(secret_of(path))
    with app.app_context():
        expire(token_id)

    refused = choose(client)
    assert refused.status_code == 410
    assert EXPIRED in text(refused)
    assert client.get(path).status_code == 410
    with app.app_context():
        assert stored_item(token_id) is not None
    assert can_log_in(app, TEST_PASSWORD)  # unchanged


def test_a_made_up_link_or_no_link_is_refused(client, siti):
    for response in (client.get("/auth/reset/not-a-real-secret"), client.get("/auth/reset")):
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
    path = opened_link(client, outbox)

    response = choose(client, password, confirm)

    assert response.status_code == 200
    assert error in page(response)
    with app.app_context():
        assert storage.find(secret_of(path), "reset") is not None
    assert choose(client).status_code == 302  # the link still works
    assert can_log_in(app, NEW_PASSWORD)


def test_the_pages_behind_the_link_keep_it_out_of_referers_and_caches(
    app, client, siti, outbox, monkeypatch
):
    path = emailed_link(client, outbox)
    responses = [
        client.get(path),
        client.get("/auth/reset"),
        choose(client, "short", "short"),
        choose(client),
        client.get(path),  # used up
        client.get("/auth/reset/unknown"),
        client.get("/auth/reset"),  # nothing in the session any more
    ]
    dynamodb_down(app, monkeypatch)
    responses.append(client.get(path))
    assert [r.status_code for r in responses] == [303, 200, 200, 302, 410, 410, 410, 503]
    for response in responses:
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["Cache-Control"] == "no-store"


def test_dynamodb_down_is_explained_not_called_an_expired_link(
    app, client, siti, outbox, monkeypatch
):
    path = opened_link(client, outbox)
    anonymous = BrowserClient(app, app.response_class, use_cookies=True)

    with monkeypatch.context() as patch:
        dynamodb_down(app, patch)  # the session cannot be read, nor the link checked
        responses = [client.get("/auth/reset"), client.get(path), anonymous.get(path)]
    for response in responses:
        assert response.status_code == 503
        assert UNAVAILABLE in page(response)
        assert EXPIRED not in page(response)
        assert response.headers["Retry-After"] == "60"

    assert client.get("/auth/reset").status_code == 200  # the session and the link survived
    assert choose(client).status_code == 302
    assert can_log_in(app, NEW_PASSWORD)


def test_a_reset_logs_out_everywhere_and_ends_api_tokens_and_other_links(
    app, client, diner, outbox
):
    with app.app_context():
        secret, _ = api_tokens.create(diner, "cron", 30)
        assert api_tokens.authenticate(secret) is not None
    elsewhere = BrowserClient(app, app.response_class, use_cookies=True)
    older = emailed_link(elsewhere, outbox)
    opened_link(elsewhere, outbox)

    assert choose(elsewhere).status_code == 302

    assert client.get("/account").status_code == 302  # the session on `client` is gone
    with app.app_context():
        assert api_tokens.authenticate(secret) is None
        assert storage.for_user(diner.id, "reset") == []
    assert elsewhere.get(older).status_code == 410


def test_old_access_ends_before_the_new_password_is_committed(
    app, client, diner, outbox, monkeypatch, caplog
):
    with app.app_context():
        api_tokens.create(diner, "cron", 30)
    elsewhere = BrowserClient(app, app.response_class, use_cookies=True)
    opened_link(elsewhere, outbox)
    token = csrf_token(elsewhere)
    at_commit = {}

    def commit_fails() -> None:
        at_commit["sessions"] = session_storage.for_user(diner.id)
        at_commit["api tokens"] = storage.for_user(diner.id, "api")
        at_commit["reset links"] = storage.for_user(diner.id, "reset")
        raise OperationalError("COMMIT", {}, Exception("server closed the connection"))

    with (
        monkeypatch.context() as patch,
        caplog.at_level(logging.ERROR, logger="bellyfed.accounts.password_reset"),
    ):
        patch.setattr(db.session, "commit", commit_fails)
        failed = elsewhere.post(
            "/auth/reset",
            data={"csrf_token": token, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
        )

    assert at_commit == {"sessions": [], "api tokens": [], "reset links": []}
    assert failed.status_code == 503
    assert NOT_FINISHED in page(failed)
    assert f"Could not finish the password reset of user {diner.id}" in caplog.text
    assert can_log_in(app, TEST_PASSWORD)  # unchanged
    assert elsewhere.get("/auth/reset").status_code == 410  # the link was used up: ask again


def test_dynamodb_failing_while_revoking_changes_nothing_and_keeps_the_link(
    app, client, diner, outbox, monkeypatch
):
    elsewhere = BrowserClient(app, app.response_class, use_cookies=True)
    path = opened_link(elsewhere, outbox)
    with monkeypatch.context() as patch:
        patch.setattr(storage, "revoke_all", endpoint_down)
        failed = choose(elsewhere)

    assert failed.status_code == 503
    assert NOT_FINISHED in page(failed)
    assert "Your password is unchanged." in page(failed)
    assert 'href="/auth/reset">Try again</a>' in text(failed)
    assert failed.headers["Retry-After"] == "60"
    assert failed.headers["Cache-Control"] == "no-store"
    assert can_log_in(app, TEST_PASSWORD)
    assert not can_log_in(app, NEW_PASSWORD)
    with app.app_context():
        assert storage.find(secret_of(path), "reset") is not None  # not used up

    # DynamoDB is back: the same link, kept in the session, works.
    assert elsewhere.get("/auth/reset").status_code == 200
    assert choose(elsewhere).status_code == 302
    assert can_log_in(app, NEW_PASSWORD)


def test_a_failure_after_the_link_is_used_leaves_the_password_and_says_to_ask_again(
    app, client, diner, outbox, monkeypatch
):
    elsewhere = BrowserClient(app, app.response_class, use_cookies=True)
    opened_link(elsewhere, outbox)
    real_revoke_all = storage.revoke_all

    def reset_links_down(user_id: int, kind: str) -> int:
        if kind == "reset":
            endpoint_down()
        return real_revoke_all(user_id, kind)

    with monkeypatch.context() as patch:
        patch.setattr(storage, "revoke_all", reset_links_down)
        failed = choose(elsewhere)

    assert failed.status_code == 503
    assert NOT_FINISHED in page(failed)
    assert 'href="/auth/forgot">Ask for a new link</a>' in text(failed)
    assert client.get("/account").status_code == 302  # old sessions ended all the same
    assert can_log_in(app, TEST_PASSWORD)
    assert not can_log_in(app, NEW_PASSWORD)
    assert elsewhere.get("/auth/reset").status_code == 410


def test_a_failed_second_sweep_after_the_commit_is_logged_not_shown(
    app, client, siti, outbox, monkeypatch, caplog
):
    opened_link(client, outbox)
    calls = []
    real_end_sessions = password_reset.end_sessions

    def second_sweep_fails(user_id: int) -> int:
        calls.append(user_id)
        if len(calls) == 2:
            endpoint_down()
        return real_end_sessions(user_id)

    monkeypatch.setattr(password_reset, "end_sessions", second_sweep_fails)
    with caplog.at_level(logging.ERROR, logger="bellyfed.accounts.password_reset"):
        saved = choose(client)

    assert saved.status_code == 302
    assert calls == [siti.id, siti.id]
    assert "the second sweep of its sessions failed" in caplog.text
    assert can_log_in(app, NEW_PASSWORD)


def test_a_logged_in_diner_can_reset_too_and_is_logged_out(app, client, diner, outbox):
    form = text(client.get("/auth/forgot"))
    assert 'value="siti"' in form  # prefilled with who is logged in

    opened_link(client, outbox)
    assert client.get("/auth/reset").status_code == 200
    assert choose(client).status_code == 302

    assert client.get("/account").status_code == 302
    assert attempt_login(client, "siti", NEW_PASSWORD).status_code == 302


def test_a_reset_clears_the_login_failures_of_the_account(client, siti, outbox):
    for _ in range(throttle.MAX_FAILURES_PER_ACCOUNT):
        attempt_login(client, "siti", "a wrong guess, again")
    assert attempt_login(client, "siti").status_code == 429

    opened_link(client, outbox)
    assert choose(client).status_code == 302

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
    follow(client, link_in(outbox[0]))
    assert choose(client).status_code == 302


def test_a_mail_server_outage_does_not_reveal_the_account(app, client, siti, monkeypatch, caplog):
    for name, value in (("MAIL_BACKEND", "smtp"), ("MAIL_HOST", "127.0.0.1"),
                        ("MAIL_PORT", free_port()), ("MAIL_STARTTLS", False)):  # fmt: skip
        monkeypatch.setitem(app.config, name, value)

    with caplog.at_level(logging.ERROR, logger="bellyfed.accounts.password_reset"):
        known, unknown = ask(client, "siti"), ask(client, "nobody")

    assert (known.status_code, known.headers["Location"]) == (302, "/auth/login")
    assert (unknown.status_code, unknown.headers["Location"]) == (302, "/auth/login")
    assert f"Could not send a password reset link to user {siti.id}" in caplog.text
