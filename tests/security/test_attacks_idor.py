"""Another user's objects via every write route (IDOR): Bob, signed in (or holding his own API
token), aims each unsafe route of the app, HTML and API, at Alice's review, comment, ranking,
votes, photo, API token, form state and sessions. He is refused (403/404/410, or the route acts
on his own things only) and nothing of Alice's changes.

``ATTACKS`` must name every unsafe (endpoint, method) of ``app.url_map``: a new write route fails
``test_every_write_route_is_covered`` until an attack (or the reason none applies) is added here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa

from bellyfed.accounts import tokens as api_tokens
from bellyfed.accounts.models import RecoveryCode, TwoFactor, User
from bellyfed.accounts.sessions import handle
from bellyfed.dynamo import sessions as session_storage
from bellyfed.dynamo import tokens as token_storage
from bellyfed.extensions import db
from bellyfed.photos.models import Photo
from bellyfed.rankings.models import Ranking
from bellyfed.reviews.models import Comment, Review
from bellyfed.votes.models import DishVote, ReviewVote
from tests.factories import TEST_PASSWORD, DishVoteFactory, ReviewVoteFactory
from tests.security.conftest import COUNTS, World, unsafe_routes
from tests.web import csrf_token, totp_code


@dataclass
class Scene:
    app: Any
    world: World
    bob: Any  # Bob's browser, signed in
    bob_api: dict[str, str]  # Bob's API token headers
    api: Any  # a cookie-less client for the API


def _alice_state(scene: Scene) -> dict[str, Any]:
    """Everything of Alice's a write route could reach, read fresh."""
    w = scene.world
    db.session.expire_all()

    def rows(model, *columns) -> list:
        return [
            tuple(r)
            for r in db.session.execute(
                sa.select(*columns).where(model.user_id == w.alice.id).order_by(*columns)
            )
        ]

    with scene.app.app_context():
        sessions = sorted(s.id for s in session_storage.for_user(w.alice.id))
        tokens = sorted(t.id for t in api_tokens.listed(w.alice.id))
        state = token_storage.find(w.alice_state, "state")
    return {
        "reviews": rows(Review, Review.id, Review.rating, Review.title, Review.body),
        "comments": rows(Comment, Comment.id, Comment.body),
        "rankings": rows(
            Ranking,
            Ranking.id,
            Ranking.dish_id,
            Ranking.position,
            Ranking.notes,
            Ranking.photo_id,
            Ranking.taste_status,
        ),
        "dish votes": rows(DishVote, DishVote.dish_id, DishVote.value),
        "review votes": rows(ReviewVote, ReviewVote.review_id, ReviewVote.value),
        "photos": [
            tuple(r)
            for r in db.session.execute(
                sa.select(Photo.id, Photo.review_id, Photo.storage_key)
                .where(Photo.uploader_id == w.alice.id)
                .order_by(Photo.id)
            )
        ],
        "profile": tuple(
            db.session.execute(
                sa.select(
                    User.display_name,
                    User.bio,
                    User.email,
                    User.role,
                    User.password_hash,
                    User.avatar_photo_id,
                ).where(User.id == w.alice.id)
            ).one()
        ),
        "two-step sign-in": rows(TwoFactor, TwoFactor.secret),
        "recovery codes": rows(RecoveryCode, RecoveryCode.code_hash, RecoveryCode.used_at),
        "sessions": sessions,
        "tokens": tokens,
        "form state": state.data if state else None,
    }


def _post(scene: Scene, url: str, data: dict | None = None, **kw) -> Any:
    token = csrf_token(scene.bob, "/account")
    return scene.bob.post(url, data={"csrf_token": token, **(data or {})}, **kw)


def refused(*codes: int) -> Callable[[Any], None]:
    """The answer must be one of ``codes``; a redirect must not be to the log-in page (Bob is
    signed in: that would mean the attack never reached the route)."""

    def check(response: Any) -> None:
        assert response.status_code in codes, (response.status_code, response.data[:300])
        assert "/auth/login" not in response.headers.get("Location", "")

    return check


# (endpoint, method) -> (attack, expected outcome) or the reason no one else's object is in reach.
ATTACKS: dict[tuple[str, str], tuple[Callable[[Scene], Any], Callable[[Any], None]] | str] = {
    ("reviews.edit", "POST"): (
        lambda s: _post(
            s,
            f"/reviews/{s.world.review.id}/edit",
            {"rating": "1", "body": "Bob was here", "title": "pwned"},
        ),
        refused(403),
    ),
    ("reviews.delete", "POST"): (
        lambda s: _post(s, f"/reviews/{s.world.review.id}/delete"),
        refused(403),
    ),
    ("reviews.edit_comment", "POST"): (
        lambda s: _post(s, f"/comments/{s.world.comment.id}/edit", {"body": "Bob was here"}),
        refused(403),
    ),
    ("reviews.delete_comment", "POST"): (
        lambda s: _post(s, f"/comments/{s.world.comment.id}/delete"),
        refused(403),
    ),
    ("reviews.comment", "POST"): (
        # Replying under anyone's review is the feature; it adds Bob's comment, touches no other.
        lambda s: _post(s, f"/reviews/{s.world.review.id}/comments", {"body": "Nice one"}),
        refused(302),
    ),
    ("reviews.create", "POST"): (
        lambda s: _post(
            s,
            f"/restaurants/{s.world.restaurant.slug}/reviews/new",
            {"rating": "2", "body": "Bob's own", "dish_id": "", "user_id": str(s.world.alice.id)},
        ),
        refused(302),
    ),
    ("rankings.move", "POST"): (
        lambda s: _post(s, f"/me/rankings/{s.world.ranking.id}/move", {"direction": "down"}),
        refused(404),
    ),
    ("rankings.remove", "POST"): (
        lambda s: _post(s, f"/me/rankings/{s.world.ranking.id}/remove"),
        refused(404),
    ),
    ("rankings.rank_dish", "POST"): (
        # The same dish as Alice's ranking: Bob's mark is his own row, Alice's stays.
        lambda s: _post(
            s,
            f"/dishes/{s.world.dish.id}/ranking",
            {"choice": "dissatisfied", "notes": "meh", "user_id": str(s.world.alice.id)},
        ),
        refused(302),
    ),
    ("votes.vote_dish", "POST"): (
        lambda s: _post(
            s,
            f"/dishes/{s.world.dish.id}/vote",
            {"value": "dislike", "user_id": str(s.world.alice.id)},
        ),
        refused(302),
    ),
    ("votes.vote_review", "POST"): (
        lambda s: _post(s, f"/reviews/{s.world.review.id}/vote", {"value": "not_helpful"}),
        refused(302),
    ),
    ("accounts.settings", "POST"): (
        # No field names an account: extra ones that try are ignored, Bob edits Bob.
        lambda s: _post(
            s,
            "/account",
            {
                "section": "profile",
                "profile-display_name": "Bob",
                "profile-bio": "",
                "profile-home_city_id": "",
                "profile-user_id": str(s.world.alice.id),
                "user_id": str(s.world.alice.id),
                "profile-email": s.world.alice.email,
                "profile-avatar_photo_id": str(s.world.photo.id),
                "profile-role": "admin",
            },
        ),
        refused(302),
    ),
    ("accounts.change_password", "POST"): (
        # No field names an account: Bob's own current password changes Bob's, never Alice's.
        lambda s: _post(
            s,
            "/account/password",
            {
                "current": TEST_PASSWORD,
                "password": "bob's brand new phrase",
                "confirm": "bob's brand new phrase",
                "user_id": str(s.world.alice.id),
                "username": s.world.alice.username,
            },
        ),
        refused(302),
    ),
    ("accounts.end_session", "POST"): (
        lambda s: _post(s, "/account/sessions/end", {"handle": _alice_handle(s)}),
        refused(302),  # "That session had already ended": only Bob's own sessions are looked at
    ),
    ("accounts.revoke_token", "POST"): (
        lambda s: _post(s, f"/account/tokens/{s.world.alice_token_id}/revoke"),
        refused(302),
    ),
    ("accounts.new_token", "POST"): (
        # Alice's wizard state in the URL: Bob's choices must not be written into it.
        lambda s: _post(
            s,
            f"/account/tokens/new?state={s.world.alice_state}",
            {"name": "bob-overwrite", "days": "30"},
        ),
        refused(302),
    ),
    ("accounts.confirm_token", "POST"): (
        lambda s: _post(
            s,
            f"/account/tokens/new/{s.world.alice_state}",
            {"password": "correct horse battery staple"},
        ),
        refused(410),
    ),
    # Two-step sign-in: no field names an account; each route acts on the caller's own session.
    # Bob (no app set up, no half-finished setup) aims them at Alice's, and she keeps hers.
    ("accounts.enable_two_factor", "POST"): (
        lambda s: _post(
            s,
            "/account/two-factor/enable",
            {
                "code": totp_code("alice_sec"),
                "password": TEST_PASSWORD,
                "user_id": s.world.alice.id,
            },
        ),
        refused(302),
    ),
    ("accounts.disable_two_factor", "POST"): (
        lambda s: _post(
            s,
            "/account/two-factor/disable",
            {
                "code": totp_code("alice_sec"),
                "password": TEST_PASSWORD,
                "user_id": s.world.alice.id,
            },
        ),
        refused(302),
    ),
    ("accounts.new_recovery_codes", "POST"): (
        lambda s: _post(
            s,
            "/account/two-factor/recovery-codes",
            {"code": totp_code("alice_sec"), "user_id": s.world.alice.id},
        ),
        refused(302),
    ),
    ("accounts.two_factor_login", "POST"): (
        lambda s: _post(
            s, "/auth/two-factor", {"code": totp_code("alice_sec"), "user": s.world.alice.id}
        ),
        refused(302),
    ),
    ("accounts.login", "POST"): "signs the caller in: no object of anyone's in reach",
    ("accounts.register", "POST"): "creates a new account for the caller",
    ("accounts.logout", "POST"): "ends the caller's own session only",
    ("accounts.forgot", "POST"): "sends a link to the account's own email; same answer for all",
    ("accounts.reset_link", "POST"): "the secret in the URL is the capability (tests/accounts)",
    ("accounts.reset", "POST"): "acts on the reset secret kept in the caller's own session",
    ("admin.new_flag", "POST"): (
        lambda s: _post(s, "/admin/flags/new", {"name": "bob-flag"}),
        refused(403),
    ),
    ("admin.edit_flag", "POST"): (
        lambda s: _post(s, "/admin/flags/search-v2", {"name": "x"}),
        refused(403),
    ),
    ("admin.toggle_flag", "POST"): (
        lambda s: _post(s, "/admin/flags/search-v2/toggle", {"version": "1"}),
        refused(403),
    ),
    ("admin.new_experiment", "POST"): (
        lambda s: _post(s, "/admin/experiments/new", {"name": "bob-exp"}),
        refused(403),
    ),
    ("admin.edit_experiment", "POST"): (
        lambda s: _post(s, "/admin/experiments/x", {"name": "x"}),
        refused(403),
    ),
    ("admin.toggle_experiment", "POST"): (
        lambda s: _post(s, "/admin/experiments/x/toggle", {"version": "1"}),
        refused(403),
    ),
    # The JSON API: Bob's own bearer token.
    ("api_reviews.review", "PATCH"): (
        lambda s: s.api.patch(
            f"/api/v1/reviews/{s.world.review.id}", json={"body": "Bob"}, headers=s.bob_api
        ),
        refused(403),
    ),
    ("api_reviews.review", "DELETE"): (
        lambda s: s.api.delete(f"/api/v1/reviews/{s.world.review.id}", headers=s.bob_api),
        refused(403),
    ),
    ("api_reviews.add_photo", "POST"): (
        lambda s: s.api.post(
            f"/api/v1/reviews/{s.world.review.id}/photos",
            data={"photo": (_tiny_jpeg(), "x.jpg")},
            headers=s.bob_api,
        ),
        refused(403),
    ),
    ("api_reviews.create", "POST"): (
        lambda s: s.api.post(
            f"/api/v1/restaurants/{s.world.restaurant.slug}/reviews",
            json={"rating": 3, "body": "Bob's own"},
            headers=s.bob_api,
        ),
        refused(201),
    ),
    ("api_rankings.DishRanking", "PUT"): (
        # Alice's photo in Bob's top 5: refused, the photo is not his.
        lambda s: s.api.put(
            f"/api/v1/me/rankings/dishes/{s.world.dish.id}",
            json={"position": 1, "notes": "mine now", "photo_id": s.world.photo.id},
            headers=s.bob_api,
        ),
        refused(422),
    ),
    ("api_rankings.DishRanking", "DELETE"): (
        # The dish Alice ranked: Bob has no ranking of it, and Alice's is not his to delete.
        lambda s: s.api.delete(f"/api/v1/me/rankings/dishes/{s.world.dish.id}", headers=s.bob_api),
        refused(204, 404),
    ),
    ("api_votes.dish_vote", "PUT"): (
        lambda s: s.api.put(
            f"/api/v1/dishes/{s.world.dish.id}/vote", json={"value": -1}, headers=s.bob_api
        ),
        refused(200),
    ),
    ("api_votes.dish_vote", "DELETE"): (
        lambda s: s.api.delete(f"/api/v1/dishes/{s.world.dish.id}/vote", headers=s.bob_api),
        refused(204),
    ),
    ("api_votes.review_vote", "PUT"): (
        lambda s: s.api.put(
            f"/api/v1/reviews/{s.world.review.id}/vote", json={"value": -1}, headers=s.bob_api
        ),
        refused(200),
    ),
    ("api_votes.review_vote", "DELETE"): (
        lambda s: s.api.delete(f"/api/v1/reviews/{s.world.review.id}/vote", headers=s.bob_api),
        refused(204),
    ),
    ("api_photos.upload", "POST"): "stores a new photo owned by the caller",
}

# Pages that show an owned object's editable contents: refused the same way as their POSTs.
READS = {
    "reviews.edit": (lambda s: s.bob.get(f"/reviews/{s.world.review.id}/edit"), refused(403)),
    "reviews.edit_comment": (
        lambda s: s.bob.get(f"/comments/{s.world.comment.id}/edit"),
        refused(403),
    ),
    "accounts.confirm_token": (
        lambda s: s.bob.get(f"/account/tokens/new/{s.world.alice_state}"),
        refused(410),
    ),
    "accounts.new_token": (
        lambda s: s.bob.get(f"/account/tokens/new?state={s.world.alice_state}"),
        refused(200),
    ),
}


def _alice_handle(scene: Scene) -> str:
    with scene.app.app_context():
        return handle(session_storage.for_user(scene.world.alice.id)[0].id)


def _tiny_jpeg():
    import io

    from tests.photos.images import plain_jpeg

    return io.BytesIO(plain_jpeg((32, 32)))


@pytest.fixture
def scene(app, world, new_browser) -> Scene:
    from tests.web import BrowserClient

    new_browser(world.alice)  # Alice has a live session for Bob to aim at
    DishVoteFactory(user_id=world.alice.id, dish_id=world.dish.id, value=1)
    ReviewVoteFactory(user_id=world.alice.id, review_id=world.bob_review.id, value=1)
    db.session.flush()
    with app.app_context():
        secret, _ = api_tokens.create(world.bob, "bob script", 30)
    api = BrowserClient(app, app.response_class, use_cookies=False)
    return Scene(app, world, new_browser(world.bob), {"Authorization": f"Bearer {secret}"}, api)


def test_every_write_route_is_covered(app):
    routes = {(rule.endpoint, method) for rule, method in unsafe_routes(app, api=None)}
    missing = routes - ATTACKS.keys()
    assert not missing, f"write routes with no IDOR attack (add one to ATTACKS): {sorted(missing)}"
    assert not ATTACKS.keys() - routes, "ATTACKS names routes that no longer exist"


ATTACK_CASES = [(key, value) for key, value in ATTACKS.items() if not isinstance(value, str)]


@pytest.mark.parametrize(
    ("key", "attack"), ATTACK_CASES, ids=[f"{m} {e}" for (e, m), _ in ATTACK_CASES]
)
def test_bob_cannot_touch_alices_objects(scene, key, attack):
    run, expect = attack
    before = _alice_state(scene)
    response = run(scene)
    COUNTS["idor: attacks on another user's objects"] += 1
    expect(response)
    assert _alice_state(scene) == before
    # Alice's API token still works after everything Bob tried.
    ok = scene.api.get(
        "/api/v1/me/votes", headers={"Authorization": f"Bearer {scene.world.alice_token_secret}"}
    )
    assert ok.status_code == 200


@pytest.mark.parametrize("endpoint", sorted(READS))
def test_bob_cannot_open_alices_edit_pages(scene, endpoint):
    run, expect = READS[endpoint]
    response = run(scene)
    COUNTS["idor: attacks on another user's objects"] += 1
    expect(response)
    page = response.get_data(as_text=True)
    for secret in ("Alice's words.", "Alice's comment.", "alice-wizard"):
        assert secret not in page


def test_a_diner_cannot_vote_on_their_own_review(scene):
    alice = scene.world
    from tests.web import BrowserClient, log_in

    client = BrowserClient(scene.app, scene.app.response_class, use_cookies=True)
    log_in(client, alice.alice.username)
    token = csrf_token(client, "/account")
    response = client.post(
        f"/reviews/{alice.review.id}/vote", data={"csrf_token": token, "value": "helpful"}
    )
    assert response.status_code == 403
