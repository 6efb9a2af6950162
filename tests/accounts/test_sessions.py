"""Server-side sessions in DynamoDB (moto's server): lifetime, rotation, ending them, outages."""

from __future__ import annotations

import base64
import re
import time
from html import unescape

import boto3
import pytest
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import select

from bellyfed.accounts import sessions as interface
from bellyfed.accounts.models import User
from bellyfed.dynamo import CLIENT_CONFIG
from bellyfed.dynamo import sessions as storage
from tests.accounts.support import attempt_login, log_out
from tests.conftest import free_port
from tests.factories import TEST_PASSWORD, UserFactory
from tests.web import BrowserClient, post, text

FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0"
NOTICE = "Signed out: sessions are briefly unavailable, try again shortly"
SIGN_IN_DOWN = "Signing in is briefly unavailable. Browsing works as usual; try again in a minute."
NEWCOMER = {"username": "new_diner", "email": "new@example.com", "display_name": "New Diner",
            "password": "nasi lemak every morning", "confirm": "nasi lemak every morning"}  # fmt: skip


def cookie_id(client) -> str | None:
    cookie = client.get_cookie("session")
    return cookie.value if cookie else None


def stored(app, session_id: str):
    with app.app_context():
        return storage.load(session_id)


def shift(app, session_id: str, **seconds_ago: int) -> None:
    """Move a stored session's timestamps into the past (``last_seen=1900`` is 1900 s ago)."""
    now = int(time.time())
    with app.app_context():
        storage.table(storage.TABLE).update_item(
            Key=storage.key(session_id),
            UpdateExpression="SET " + ", ".join(f"{name} = :{name}" for name in seconds_ago),
            ExpressionAttributeValues={f":{k}": now - v for k, v in seconds_ago.items()},
        )


def signed_in(client) -> bool:
    response = client.get("/account")
    return response.status_code == 200


@pytest.fixture
def second_browser(app, db_session, diner):
    """Siti again, on another device."""
    other = BrowserClient(app, app.response_class, use_cookies=True)
    other.environ_base["HTTP_USER_AGENT"] = FIREFOX
    assert attempt_login(other, "siti").status_code == 302
    return other


def test_an_anonymous_visitor_gets_no_cookie_no_item_and_no_dynamodb_call(client, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("DynamoDB was called for an anonymous visitor")

    for name in ("load", "save", "touch", "delete", "table", "resource"):
        monkeypatch.setattr(storage, name, refuse)
    for path in ("/", "/search", "/dishes", "/"):
        response = client.get(path)
        assert response.status_code in (200, 302), path
        assert "Set-Cookie" not in response.headers, path
    assert cookie_id(client) is None


def test_log_in_stores_the_user_under_a_random_id_of_at_least_128_bits(app, client, diner):
    session_id = cookie_id(client)
    assert len(base64.urlsafe_b64decode(session_id + "==")) >= 16
    item = stored(app, session_id)
    assert item.user_id == diner.id
    assert item.expires_at <= item.created_at + app.config["SESSION_ABSOLUTE_SECONDS"]
    response = client.get("/")
    assert "X-CSRFToken" in text(response)
    cookie = client.get_cookie("session")
    assert cookie.http_only
    assert cookie.same_site == "Lax"


def test_log_in_gives_a_new_id_and_the_old_one_stops_working(app, client):
    UserFactory(username="siti")
    client.get("/auth/login")  # the form's CSRF token starts a session
    before = cookie_id(client)
    assert before
    assert stored(app, before).user_id is None
    assert attempt_login(client, "siti").status_code == 302
    after = cookie_id(client)
    assert after != before
    assert stored(app, before) is None
    client.set_cookie("session", before)  # an attacker who planted the pre-login id
    assert not signed_in(client)


def test_idle_sessions_expire(app, client, diner):
    shift(app, cookie_id(client), last_seen=app.config["SESSION_IDLE_SECONDS"] + 5)
    assert not signed_in(client)


def test_sessions_expire_at_the_absolute_limit_even_when_active(app, client, diner):
    shift(app, cookie_id(client), created_at=app.config["SESSION_ABSOLUTE_SECONDS"] + 5)
    assert not signed_in(client)


def test_an_item_past_its_ttl_is_rejected_though_still_stored(app, client, diner):
    session_id = cookie_id(client)
    shift(app, session_id, expires_at=1)
    assert stored(app, session_id) is not None
    assert not signed_in(client)


def test_last_seen_is_written_at_most_once_a_minute(app, client, diner):
    session_id = cookie_id(client)
    client.get("/")  # shows (and so removes) the welcome flash: a change, written at once
    shift(app, session_id, last_seen=30)
    seen = stored(app, session_id).last_seen
    assert signed_in(client)
    assert stored(app, session_id).last_seen == seen  # under a minute: no write
    shift(app, session_id, last_seen=600)
    assert signed_in(client)
    item = stored(app, session_id)
    assert item.last_seen >= time.time() - 5
    assert item.expires_at >= item.last_seen + app.config["SESSION_IDLE_SECONDS"] - 1


def test_log_out_deletes_the_item(app, client, diner):
    session_id = cookie_id(client)
    assert log_out(client).status_code == 302
    assert stored(app, session_id) is None
    assert cookie_id(client) != session_id
    assert not signed_in(client)


def test_the_account_page_lists_the_sessions(client, second_browser):
    page = text(client.get("/account"))
    assert "This device" in page
    assert "Firefox on Windows" in page


def test_ending_one_session(app, client, second_browser):
    other_id = cookie_id(second_browser)
    page = text(client.get("/account"))
    handle = re.search(r'name="handle" value="([0-9a-f]+)"', page).group(1)
    assert handle == interface.handle(other_id)
    assert post(client, "/account/sessions/end", {"handle": handle}).status_code == 302
    assert stored(app, other_id) is None
    assert not signed_in(second_browser)
    assert signed_in(client)


def test_log_out_everywhere_else_keeps_this_device(app, client, second_browser):
    other_id = cookie_id(second_browser)
    assert post(client, "/account/sessions/end", {"scope": "others"}).status_code == 302
    assert stored(app, other_id) is None
    assert not signed_in(second_browser)
    assert signed_in(client)


def test_log_out_everywhere_ends_every_session(app, client, diner, second_browser):
    ids = [cookie_id(client), cookie_id(second_browser)]
    assert post(client, "/account/sessions/end", {"scope": "all"}).status_code == 302
    assert [stored(app, i) for i in ids] == [None, None]
    with app.app_context():
        assert storage.for_user(diner.id) == []
    assert not signed_in(client)
    assert not signed_in(second_browser)


def test_dynamodb_down_signs_out_with_a_notice_and_never_fails(app, client, diner, monkeypatch):
    dead = boto3.resource("dynamodb", region_name=app.config["AWS_REGION"],
                          endpoint_url=f"http://127.0.0.1:{free_port()}", config=CLIENT_CONFIG)  # fmt: skip
    monkeypatch.setitem(app.extensions, "dynamodb", dead)
    page = client.get("/")
    assert page.status_code == 200
    assert NOTICE in text(page)
    assert "Log out" not in text(page)
    assert client.get("/account", follow_redirects=True).status_code == 200
    anonymous = BrowserClient(app, app.response_class, use_cookies=True)
    assert anonymous.get("/").status_code == 200
    assert anonymous.get("/auth/login").status_code == 200
    monkeypatch.undo()
    assert signed_in(client)  # the session survived the outage


def dynamodb_down(app, monkeypatch) -> None:
    """Every DynamoDB call of the app goes to a port nobody listens on (monkeypatch.undo ends it)."""
    dead = boto3.resource("dynamodb", region_name=app.config["AWS_REGION"],
                          endpoint_url=f"http://127.0.0.1:{free_port()}", config=CLIENT_CONFIG)  # fmt: skip
    monkeypatch.setitem(app.extensions, "dynamodb", dead)


def assert_told_to_retry(response) -> None:
    assert response.status_code == 503
    assert SIGN_IN_DOWN in unescape(text(response))
    assert response.headers["Retry-After"] == "60"
    assert not any(c.startswith("session=") for c in response.headers.getlist("Set-Cookie"))


def failures_counted(redis_client) -> list[bytes]:
    return redis_client.keys("login:fail:*")


def test_logging_in_during_an_outage_says_so_counts_nothing_and_works_after(
    app, client, redis_client, monkeypatch
):
    UserFactory(username="siti")
    client.get("/auth/login")  # a session with the form's token, stored before the outage
    before = cookie_id(client)
    dynamodb_down(app, monkeypatch)
    assert_told_to_retry(attempt_login(client, "siti"))
    assert failures_counted(redis_client) == []
    assert cookie_id(client) == before
    monkeypatch.undo()
    assert attempt_login(client, "siti").status_code == 302
    assert signed_in(client)


def test_a_first_visit_during_an_outage_is_told_the_same_not_form_expired(
    app, client, redis_client, db_session, monkeypatch
):
    UserFactory(username="siti")
    dynamodb_down(app, monkeypatch)
    assert client.get("/auth/login").status_code == 200
    assert cookie_id(client) is None  # its token could not be stored
    assert_told_to_retry(attempt_login(client, "siti"))
    assert_told_to_retry(post(client, "/auth/register", NEWCOMER))
    assert failures_counted(redis_client) == []
    assert db_session.scalar(select(User).where(User.username == "new_diner")) is None


def test_other_forms_during_an_outage_say_the_store_is_down(app, client, diner, monkeypatch):
    token = re.search(r'"X-CSRFToken": "([^"]+)"', text(client.get("/"))).group(1)
    dynamodb_down(app, monkeypatch)
    response = client.post("/auth/logout", data={"csrf_token": token})
    assert response.status_code == 503
    assert "Sending forms is briefly unavailable" in unescape(text(response))
    assert "expired" not in text(response)


def test_the_sign_in_views_probe_the_store_themselves(
    app, client, redis_client, db_session, monkeypatch
):
    """Past the CSRF check (its session loaded, or no CSRF at all) the view still asks first."""
    UserFactory(username="siti")
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", False)
    dynamodb_down(app, monkeypatch)
    login = client.post("/auth/login", data={"identifier": "siti", "password": TEST_PASSWORD})
    assert_told_to_retry(login)
    assert 'class="form-errors"' in text(login)  # the form again, to try once more
    assert 'value="siti"' in text(login)
    assert failures_counted(redis_client) == []
    assert_told_to_retry(client.post("/auth/register", data=NEWCOMER))
    assert db_session.scalar(select(User).where(User.username == "new_diner")) is None
    monkeypatch.undo()
    assert attempt_login(client, "siti").status_code == 302


def test_available_probes_dynamodb_sessions_only(app, monkeypatch):
    with app.test_request_context("/auth/login", method="POST"):
        assert interface.available()
    dynamodb_down(app, monkeypatch)
    with app.test_request_context("/auth/login", method="POST"):
        assert not interface.available()

    def refuse():
        raise AssertionError("cookie sessions need no probe")

    monkeypatch.setattr(app, "session_interface", SecureCookieSessionInterface())
    monkeypatch.setattr(storage, "probe", refuse)
    with app.test_request_context("/auth/login", method="POST"):
        assert interface.available()


def ended_while_running(app, monkeypatch):
    """Make the next load see the session, then end it before the response is saved (as "log out
    everywhere" from another device would, mid-request)."""
    real_load = storage.load

    def load_then_end(session_id):
        found = real_load(session_id)
        storage.delete(session_id)
        return found

    monkeypatch.setattr(storage, "load", load_then_end)


def test_a_request_running_when_its_session_ends_cannot_bring_it_back(
    app, client, diner, monkeypatch
):
    session_id = cookie_id(client)
    ended_while_running(app, monkeypatch)
    client.get("/")  # shows the welcome flash: the session changed, so it is written back
    monkeypatch.undo()
    assert stored(app, session_id) is None
    assert client.get("/account").status_code == 302  # signed out for good


def test_a_touch_after_the_session_ended_does_not_recreate_it(app, client, diner, monkeypatch):
    session_id = cookie_id(client)
    shift(app, session_id, last_seen=120)  # due for a touch
    ended_while_running(app, monkeypatch)
    client.get("/")
    monkeypatch.undo()
    assert stored(app, session_id) is None
