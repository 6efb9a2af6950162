"""CSRF: every unsafe route of the HTML app, taken from ``app.url_map``, refuses a request that
lacks the session's token (no token, a wrong one, another session's, HTMX without it) with a 400
and changes nothing, in PostgreSQL or DynamoDB. A new route is attacked here automatically.

The victim is signed in and is an operator who owns everything the routes touch, so each request
would succeed with the token: the positive control below shows that.
"""

from __future__ import annotations

from bellyfed.accounts import tokens as api_tokens
from bellyfed.accounts.sessions import handle
from bellyfed.dynamo import sessions as session_storage
from bellyfed.extensions import db
from bellyfed.reviews.models import Review
from tests.security.conftest import (
    COUNTS,
    CSRF_REFUSED,
    changed_tables,
    fingerprint,
    route_url,
    unsafe_routes,
)
from tests.web import csrf_token


def _dynamo_state(app, world) -> tuple:
    with app.app_context():
        sessions = sorted(s.id for s in session_storage.for_user(world.alice.id))
        tokens = sorted(t.id for t in api_tokens.listed(world.alice.id))
    return sessions, tokens


def _body_for(rule, world) -> dict[str, str]:
    """What the route's real form would send, so only the token is missing."""
    return {
        "section": "profile", "profile-display_name": "CSRF was here", "scope": "all",
        "handle": "x", "direction": "up", "value": "like", "body": "CSRF was here",
        "rating": "1", "choice": "acceptable", "identifier": world.alice.username,
        "password": "correct horse battery staple", "name": "csrf-flag", "version": "1",
        "confirm": "correct horse battery staple", "username": "csrf_user",
        "email": "csrf@example.com", "display_name": "CSRF",
    }  # fmt: skip


def test_every_unsafe_html_route_refuses_a_post_without_the_token(app, world, new_browser):
    world.alice.role = "admin"
    db.session.flush()
    victim = new_browser(world.alice)
    other = new_browser(world.bob)
    foreign_token = csrf_token(other)  # a valid token, of another session
    routes = unsafe_routes(app)
    assert len(routes) >= 20, routes  # the enumeration found the app's forms
    before, dynamo_before = fingerprint(), _dynamo_state(app, world)
    problems = []
    for rule, method in routes:
        url = route_url(rule, world)
        body = _body_for(rule, world)
        attempts = {
            "no token": (body, {}),
            "empty token": ({**body, "csrf_token": ""}, {}),
            "forged token": ({**body, "csrf_token": "IjEyMyI.aaaa.bbbb"}, {}),
            "another session's token": ({**body, "csrf_token": foreign_token}, {}),
            "htmx without token": (body, {"HX-Request": "true"}),
            "htmx with another session's token": (
                body, {"HX-Request": "true", "X-CSRFToken": foreign_token}
            ),
        }  # fmt: skip
        for label, (data, headers) in attempts.items():
            response = victim.open(url, method=method, data=data, headers=headers)
            COUNTS["csrf: token-less or forged unsafe requests"] += 1
            refused = response.status_code in (400, 403) and CSRF_REFUSED.search(
                response.get_data(as_text=True)
            )
            if not refused:
                problems.append(f"{method} {url} ({label}): {response.status_code}")
    assert not problems, "\n".join(problems)
    assert changed_tables(before, fingerprint()) == []
    assert _dynamo_state(app, world) == dynamo_before
    # Still signed in: not even logout or "log out everywhere" went through.
    assert victim.get("/account").status_code == 200


def test_the_same_request_with_the_token_goes_through(world, new_browser):
    """Positive control: the requests above failed for the token alone."""
    victim = new_browser(world.alice)
    review_id = world.review.id
    url = f"/reviews/{review_id}/delete"
    assert victim.post(url).status_code == 400
    assert db.session.get(Review, review_id) is not None
    response = victim.post(url, data={"csrf_token": csrf_token(victim)})
    assert response.status_code == 302
    db.session.expunge_all()
    assert db.session.get(Review, review_id) is None


def test_a_session_handle_is_no_substitute_for_the_token(app, world, new_browser):
    victim = new_browser(world.alice)
    with app.app_context():
        sessions = session_storage.for_user(world.alice.id)
    data = {"handle": handle(sessions[0].id)}
    response = victim.post("/account/sessions/end", data=data)
    assert response.status_code == 400
    with app.app_context():
        assert len(session_storage.for_user(world.alice.id)) == len(sessions)
