"""Bearer tokens: reads are public, writes need a valid token, cookies and CSRF play no part."""

from __future__ import annotations

import time

from bellyfed.accounts import tokens
from bellyfed.dynamo import tokens as storage
from tests.api.conftest import problem
from tests.factories import DishFactory, DishTypeFactory, UserFactory
from tests.web import BrowserClient, log_in


def vote_url(db_session) -> str:
    dish = DishFactory(dish_type=DishTypeFactory())
    db_session.flush()
    return f"/api/v1/dishes/{dish.id}/vote"


def test_reads_need_no_token(api):
    assert api.get("/api/v1/restaurants").status_code == 200


def test_writes_without_a_token_are_401_with_a_challenge(api, db_session):
    response = api.put(vote_url(db_session), json={"value": 1})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "Bearer" in problem(response)["detail"]


def test_malformed_unknown_revoked_and_expired_tokens_are_refused(api, app, db_session):
    url = vote_url(db_session)
    user = UserFactory()
    db_session.flush()
    with app.app_context():
        revoked, token = tokens.create(user, "old", 30)
        tokens.revoke(user.id, token.id)
        expired, token = tokens.create(user, "expired", 30)
        storage.table(storage.TABLE).update_item(
            Key=storage.key(token.id), UpdateExpression="SET expires_at = :t",
            ExpressionAttributeValues={":t": int(time.time()) - 1},
        )  # fmt: skip
    for header in ("Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "bf_no_scheme",
                   "Bearer bf_unknown", f"Bearer {revoked}", f"Bearer {expired}"):  # fmt: skip
        response = api.put(url, json={"value": 1}, headers={"Authorization": header})
        assert response.status_code == 401, header
        assert problem(response)["detail"]
    # A bad token is refused on reads too: a client should learn its token is wrong.
    assert (
        api.get("/api/v1/restaurants", headers={"Authorization": "Bearer nope"}).status_code == 401
    )


def test_a_valid_token_writes_without_any_csrf_token(api, db_session, token_for):
    url = vote_url(db_session)
    response = api.put(url, json={"value": 1}, headers=token_for(UserFactory()))
    assert response.status_code == 200, response.get_data(as_text=True)


def test_a_signed_in_browser_cookie_does_not_authenticate_api_writes(app, db_session, redis_client):
    url = vote_url(db_session)
    UserFactory(username="cookie")
    browser = BrowserClient(app, app.response_class, use_cookies=True)
    log_in(browser, "cookie")
    response = browser.put(url, json={"value": 1})
    assert response.status_code == 401
    # ...and the API call left the browser's session alone: still signed in on the site.
    assert "Log out" in browser.get("/").get_data(as_text=True)
