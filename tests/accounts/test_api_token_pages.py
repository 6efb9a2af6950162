"""API tokens in account settings: the two-step wizard (state in DynamoDB), the list, revoking."""

from __future__ import annotations

import html
import re
import time
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from flask.sessions import SecureCookieSessionInterface

from bellyfed.accounts import throttle
from bellyfed.accounts import tokens as api_tokens
from bellyfed.core.formatting import format_date
from bellyfed.dynamo import CLIENT_CONFIG
from bellyfed.dynamo import tokens as storage
from tests.accounts.support import attempt_login
from tests.accounts.test_token_store import expire
from tests.conftest import free_port
from tests.factories import TEST_PASSWORD, UserFactory
from tests.web import csrf_token, post, text

NEW = "/account/tokens/new"
SECRET = re.compile(r'id="token-secret" value="(bf_[^"]+)"')
REVOKE = re.compile(r'action="/account/tokens/([0-9a-f]{64})/revoke"')
EXPIRED = "That form expired; start again"
UNAVAILABLE = "API tokens are briefly unavailable, try again shortly"


def start(client, name: str = "Laptop script", days: str = "90", state: str | None = None):
    """Submit step 1 (into an existing state when coming back to it)."""
    url = f"{NEW}?state={state}" if state else NEW
    return post(client, url, {"name": name, "days": days})


def state_of(response) -> str:
    assert response.status_code == 302, text(response)[:500]
    location = response.headers["Location"]
    assert location.startswith(f"{NEW}/")
    return location.removeprefix(f"{NEW}/")


def shown(response) -> str:
    """The page's text as a reader sees it (entities such as &#39; decoded)."""
    return html.unescape(text(response))


def confirm(client, state: str, password: str = TEST_PASSWORD):
    return post(client, f"{NEW}/{state}", {"password": password})


def create_through_pages(client, name: str = "Laptop script", days: str = "90") -> str:
    """Run the whole wizard; returns the secret shown at the end."""
    response = confirm(client, state_of(start(client, name, days)))
    assert response.status_code == 200, text(response)[:500]
    return SECRET.search(text(response)).group(1)


def live(app, user_id: int, kind: str = "api") -> list[storage.Token]:
    with app.app_context():
        return storage.for_user(user_id, kind)


def caller(app, secret: str):
    with app.app_context():
        return api_tokens.authenticate(secret)


def find_state(app, state: str):
    with app.app_context():
        return storage.find(state, "state")


def test_the_wizard_creates_a_token_shown_once_then_listed_and_revoked(app, client, diner):
    step_one = client.get(NEW)
    assert step_one.status_code == 200
    assert "Step 1 of 2" in text(step_one)
    assert '<option selected value="90">90 days</option>' in text(step_one)

    state = state_of(start(client, "  Laptop   script ", "365"))
    stored = find_state(app, state)
    assert stored.user_id == diner.id
    assert stored.expires_at - stored.created_at == app.config["FORM_STATE_SECONDS"]
    assert (stored.data["name"], stored.data["days"]) == ("Laptop script", 365)

    step_two = client.get(f"{NEW}/{state}")
    assert step_two.status_code == 200
    page = text(step_two)
    assert "Laptop script" in page
    assert "1 year" in page
    assert format_date(datetime.now(UTC) + timedelta(days=365)) in page
    assert f'href="{NEW}?state={state}"' in page  # Back
    assert live(app, diner.id) == []

    created = confirm(client, state)
    assert created.status_code == 200
    assert created.headers["Cache-Control"] == "no-store"
    page = text(created)
    secret = SECRET.search(page).group(1)
    assert f'curl -H "Authorization: Bearer {secret}" http://localhost/api/v1/restaurants' in page
    assert f"<code>{secret[:7]}…</code>" in page
    assert find_state(app, state) is None  # used up
    assert caller(app, secret).user.id == diner.id
    (token,) = live(app, diner.id)
    assert token.expires_at - token.created_at == 365 * api_tokens.DAY

    settings = text(client.get("/account"))
    assert "Laptop script" in settings
    assert f"<code>{secret[:7]}…</code>" in settings
    assert secret not in settings
    assert REVOKE.search(settings).group(1) == token.id

    revoked = post(client, f"/account/tokens/{token.id}/revoke")
    assert revoked.status_code == 302
    assert revoked.headers["Location"] == "/account"
    settings = text(client.get("/account"))
    assert "That token is revoked" in settings
    assert "Laptop script" not in settings
    assert "You have no API tokens." in settings
    assert caller(app, secret) is None


def test_the_list_shows_when_a_token_was_last_used(app, client, diner):
    create_through_pages(client, "Cron job")
    page = text(client.get("/account"))
    assert "last used never" in page
    with app.app_context():
        (token,) = storage.for_user(diner.id, "api")
        storage.touch(token, now=int(time.time()))
    today = format_date(datetime.now(UTC))
    assert f"last used {today}" in text(client.get("/account"))


def test_back_shows_step_one_filled_in_and_keeps_the_same_state(app, client, diner):
    state = state_of(start(client, "Home dashboard", "30"))
    back = text(client.get(f"{NEW}?state={state}"))
    assert 'value="Home dashboard"' in back
    assert '<option selected value="30">30 days</option>' in back
    assert f'action="{NEW}?state={state}"' in back

    assert state_of(start(client, "Dashboard", "365", state=state)) == state
    assert find_state(app, state).data["name"] == "Dashboard"
    assert len(live(app, diner.id, "state")) == 1


@pytest.mark.parametrize(
    ("name", "days", "message"),
    [
        ("", "90", "Give the token a name"),
        ("   ", "90", "Give the token a name"),
        ("x" * (api_tokens.NAME_CHARS + 1), "90", f"Keep the name to {api_tokens.NAME_CHARS}"),
        ("Laptop", "7", "Pick a lifetime from the list."),
        ("Laptop", "forever", "Pick a lifetime from the list."),
    ],
)
def test_step_one_explains_bad_input_and_stores_nothing(app, client, diner, name, days, message):
    response = start(client, name, days)
    assert response.status_code == 422
    assert message in text(response)
    assert live(app, diner.id, "state") == []


def test_a_wrong_password_keeps_the_state_and_creates_nothing(app, client, diner):
    state = state_of(start(client))
    response = confirm(client, state, "not my password at all")
    assert response.status_code == 422
    assert "That isn't your password" in shown(response)
    assert 'aria-invalid="true"' in text(response)
    assert find_state(app, state) is not None
    assert live(app, diner.id) == []
    empty = confirm(client, state, "")
    assert empty.status_code == 422
    assert "Enter your password to confirm." in text(empty)
    assert confirm(client, state).status_code == 200  # the state survived both
    assert len(live(app, diner.id)) == 1


def test_password_guesses_count_with_failed_logins(app, client, diner):
    state = state_of(start(client))
    for _ in range(throttle.MAX_FAILURES_PER_ACCOUNT):
        assert confirm(client, state, "guess").status_code == 422
    refused = confirm(client, state)  # even the right one, until the window passes
    assert refused.status_code == 429
    assert "Too many failed attempts for this account" in text(refused)
    assert int(refused.headers["Retry-After"]) > 0
    assert live(app, diner.id) == []


def test_sending_step_two_again_after_success_creates_no_second_token(app, client, diner):
    state = state_of(start(client))
    secret = SECRET.search(text(confirm(client, state))).group(1)
    again = confirm(client, state)
    assert again.status_code == 410
    assert EXPIRED in text(again)
    assert secret not in text(again)
    assert len(live(app, diner.id)) == 1


def test_an_expired_state_asks_to_start_again(app, client, diner):
    state = state_of(start(client))
    with app.app_context():
        expire(storage.digest(state))
    for response in (client.get(f"{NEW}/{state}"), confirm(client, state)):
        assert response.status_code == 410
        assert EXPIRED in text(response)
        assert f'href="{NEW}"' in text(response)
    assert live(app, diner.id) == []
    assert 'value="Laptop script"' not in text(client.get(f"{NEW}?state={state}"))


def test_another_users_state_is_refused(app, client, diner):
    other = UserFactory()
    with app.app_context():
        theirs, _ = storage.issue(
            "state", other.id, 600, data={"form": "api-token", "name": "Their bot", "days": 30}
        )
        elsewhere, _ = storage.issue("state", diner.id, 600, data={"step": 1})  # another form's
    for state in (theirs, elsewhere, "not-a-state"):
        assert client.get(f"{NEW}/{state}").status_code == 410
        response = confirm(client, state)
        assert response.status_code == 410
        assert EXPIRED in text(response)
    assert "Their bot" not in text(client.get(f"{NEW}?state={theirs}"))
    assert live(app, diner.id) == []
    assert live(app, other.id) == []
    assert find_state(app, theirs) is not None  # not used up by somebody else's attempt


def test_at_most_ten_tokens(app, client, diner):
    with app.app_context():
        for n in range(api_tokens.MAX_PER_USER):
            api_tokens.create(diner, f"token {n}", 30)
    page = text(client.get("/account"))
    assert "the most there can be" in page
    assert f'href="{NEW}"' not in page
    state = state_of(start(client, "one more"))
    response = confirm(client, state)
    assert response.status_code == 302
    assert response.headers["Location"] == "/account"
    assert "You already have 10 API tokens" in text(client.get("/account"))
    assert len(live(app, diner.id)) == api_tokens.MAX_PER_USER


def test_revoking_someone_elses_token_is_refused(app, client, diner):
    other = UserFactory()
    with app.app_context():
        secret, token = api_tokens.create(other, "Their bot", 90)
    for token_id in (token.id, "0" * 64, "nope", "x" * 3000):
        response = post(client, f"/account/tokens/{token_id}/revoke")
        assert response.status_code == 302
        assert "That token was already revoked" in text(client.get("/account"))
    assert caller(app, secret).user.id == other.id


def test_anonymous_visitors_are_sent_to_log_in(client):
    for path in (NEW, f"{NEW}/some-state"):
        response = client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/auth/login?next=")
    response = client.post(
        f"/account/tokens/{'0' * 64}/revoke", data={"csrf_token": csrf_token(client)}
    )
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auth/login")


def test_the_secret_never_shows_again(app, client, diner):
    state = state_of(start(client))
    secret = SECRET.search(text(confirm(client, state))).group(1)
    later = [
        client.get("/account"),
        client.get("/"),
        client.get(NEW),
        client.get(f"{NEW}?state={state}"),
        client.get(f"{NEW}/{state}"),
        confirm(client, state),
    ]
    for response in later:
        assert secret not in text(response)
        assert secret not in str(response.headers)


@pytest.fixture
def dynamodb_down(app, monkeypatch):
    """Point the app at a port nobody listens on."""

    def go_down() -> None:
        dead = boto3.resource("dynamodb", region_name=app.config["AWS_REGION"],
                              endpoint_url=f"http://127.0.0.1:{free_port()}", config=CLIENT_CONFIG)  # fmt: skip
        monkeypatch.setitem(app.extensions, "dynamodb", dead)

    return go_down


def test_dynamodb_down_marks_the_card_and_the_wizard_says_so(
    app, client, monkeypatch, dynamodb_down
):
    # Cookie sessions (SESSION_BACKEND=cookie) keep Siti signed in while DynamoDB is down.
    monkeypatch.setattr(app, "session_interface", SecureCookieSessionInterface())
    siti = UserFactory(username="siti")
    assert attempt_login(client, "siti").status_code == 302
    with app.app_context():
        _, token = api_tokens.create(siti, "Laptop", 30)
    state = state_of(start(client))
    dynamodb_down()

    settings = client.get("/account")
    assert settings.status_code == 200
    assert UNAVAILABLE in text(settings)
    assert "Save profile" in text(settings)
    assert client.get(NEW).status_code == 200  # a blank step 1 needs no DynamoDB
    for response in (client.get(f"{NEW}?state={state}"), start(client),
                     client.get(f"{NEW}/{state}"), confirm(client, state)):  # fmt: skip
        assert response.status_code == 503
        assert UNAVAILABLE in text(response)
    revoked = post(client, f"/account/tokens/{token.id}/revoke")
    assert revoked.status_code == 302
    assert UNAVAILABLE in text(client.get("/account"))
    monkeypatch.delitem(app.extensions, "dynamodb")
    assert len(live(app, siti.id)) == 1


def test_dynamodb_down_with_server_side_sessions_never_fails(app, client, diner, dynamodb_down):
    dynamodb_down()  # the session is gone with it: the wizard asks to log in, never a 500
    for response in (client.get(NEW), client.get(f"{NEW}/some-state"), client.get("/account")):
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/auth/login")
