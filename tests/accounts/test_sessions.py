"""Server-side sessions in DynamoDB (moto's server): lifetime, rotation, ending them, outages."""

from __future__ import annotations

import base64
import re
import time

import boto3
import pytest

from bellyfed.accounts import sessions as interface
from bellyfed.dynamo import CLIENT_CONFIG
from bellyfed.dynamo import sessions as storage
from tests.accounts.support import attempt_login, log_out
from tests.conftest import free_port
from tests.factories import UserFactory
from tests.web import BrowserClient, post, text

FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0"
NOTICE = "Signed out: sessions are briefly unavailable, try again shortly"


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
