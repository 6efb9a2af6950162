"""Property-based fuzzing (Hypothesis) of every HTML route: no 5xx, a message for every refusal,
nothing written by a refused form.

Every route of the HTML app (the url_map minus ``/api/`` and ``/static/``, minus the explicit and
commented ``EXCLUDED`` list) has a ``Case`` here, one per (endpoint, method): every form route's
POST, and every GET, since a GET takes input too (its path arguments and query string: search
filters, ``page=``, ``after=``, ``next=``, ``state=``...). ``test_every_html_route_is_fuzzed``
fails when a route appears that has no case, so coverage stays complete.

Each case runs ``FORM_FUZZ_EXAMPLES`` (default 25; a fifth of that for the pages whose only
input is a query string they never read) derandomized Hypothesis examples against the real app,
PostgreSQL, Redis and DynamoDB/S3 (moto). The browser is a signed-in diner who owns real objects
(made with tests/factories.py: reviews with a photo, comments, rankings, a taste mark, votes; API
tokens, token-wizard states and a second session in DynamoDB), an operator for ``/admin`` (with a
stored flag and experiment) and nobody for the sign-in pages. It sends a valid CSRF token (as the
form field, or as the header HTMX sends), and Hypothesis picks:

* path arguments: the diner's own objects, someone else's, ids that don't exist, negative or
  beyond bigint, slugs and names of any text (percent-encoded, invalid UTF-8 included);
* the route's real fields (the names its WTForms form reads), each missing, given once or
  repeated, with a valid value or arbitrary text (unicode, NUL bytes, invalid UTF-8, huge
  strings, numbers and dates as text, SQL and markup), plus extra fields; files (junk bytes, SVG,
  a real JPEG) for the upload fields; urlencoded or multipart; sometimes as an HTMX request.

Checked for every example: the status is below 500 (an exception, which ``TESTING`` propagates,
fails too); a refusal (any 4xx, or a POST answered 200 where success is a redirect) carries a
message; a refusal wrote nothing (a digest of every PostgreSQL table a form writes, plus the
DynamoDB flags or tokens for the forms that write those); a POST that redirects without writing
anything leads to a page with a flash message. Each example runs in a savepoint rolled back
afterwards, so every example starts from the same world (built once for the module).

The counts (examples run, statuses, 5xx) are printed in pytest's terminal summary;
``FORM_FUZZ_VERBOSE=1`` adds them per route, ``FORM_FUZZ_TRACE=1`` prints every request.
"""

from __future__ import annotations

import io
import os
import re
import sys
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, quote_plus, urlsplit

import pyotp
import pytest
import redis
import sqlalchemy as sa
from flask import Flask
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from PIL import Image
from werkzeug.test import TestResponse

from bellyfed.accounts import two_factor, two_factor_views
from bellyfed.accounts.models import TwoFactor
from bellyfed.accounts.sessions import handle
from bellyfed.dynamo import flags as flag_storage
from bellyfed.dynamo import table
from bellyfed.dynamo import tokens as token_storage
from bellyfed.extensions import db
from bellyfed.flags.evaluate import Experiment, Flag, Variant
from tests.conftest import TEST_REDIS_URL, rolled_back_session
from tests.factories import (
    TEST_PASSWORD,
    TEST_TOTP_SECRET,
    CityFactory,
    CommentFactory,
    CuisineFactory,
    DishFactory,
    DishTypeFactory,
    DishVoteFactory,
    OperatingHoursFactory,
    PhotoFactory,
    RankingFactory,
    RestaurantFactory,
    ReviewFactory,
    ReviewVoteFactory,
    UserFactory,
)
from tests.web import BrowserClient, csrf_token

EXAMPLES = int(os.environ.get("FORM_FUZZ_EXAMPLES", "25"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,  # and a fixed seed per case (see ``fuzz``): the same examples on every run
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Routes with no case, and why. Everything else in the HTML app must have one.
EXCLUDED = {
    # Machine endpoints for load balancers and Prometheus: no form, no path argument, and the
    # query string is never read; their behaviour (and outages) is tested in tests/ops.
    ("ops.healthz", "GET"): "probe without input",
    ("ops.readyz", "GET"): "probe without input",
    ("ops.metrics_page", "GET"): "scrape endpoint without input",
}

# What a page says when it refuses something: a field or form error, an error flash, the error
# page, or one of the pages for an expired link/form (their heading is the message).
MESSAGE = re.compile(
    r'class="(?:field-error|form-errors|flash flash-error|error-page|error)"'
    r'|id="(?:expired-heading|token-heading|unavailable-heading)"'
)
FLASH = re.compile(r'class="flash flash-\w+"')
# Every table an HTML form writes: a refused form must leave all of them as they were.
WRITTEN_TABLES = (
    "users",
    "user_preferences",
    "user_favourite_cuisines",
    "reviews",
    "comments",
    "photos",
    "rankings",
    "ranking_history",
    "dish_votes",
    "review_votes",
    "user_two_factor",
    "user_recovery_codes",
)
DIGEST = sa.text(
    " UNION ALL ".join(
        f"SELECT '{name}', count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), ''))"
        f" FROM {name} t"
        for name in WRITTEN_TABLES
    )
)

RUN: Counter[str] = Counter()  # examples run per case
STATUSES: Counter[int] = Counter()  # statuses of the fuzzed requests
CASE_STATUSES: dict[str, Counter[int]] = {}  # the same per case (FORM_FUZZ_VERBOSE=1 prints)
FIVE_HUNDREDS: list[str] = []


# ---------------------------------------------------------------------------------------------
# Strategies


SPECIAL = [
    "", " ", "\t\n", "\x00", "a\x00b", "%00", "0", "-1", "1.5", "1e309", "NaN", "-0",
    "99999999999999999999999", str(2**63), str(-(2**63) - 1), "true", "on", "null", "[]", "{}",
    "' OR 1=1 --", "'; DROP TABLE reviews; --", '"><script>alert(1)</script>', "{{7*7}}",
    "../../etc/passwd", "//evil.example/", "/\\evil.example", "javascript:alert(1)",
    "https://evil.example", "/restaurants/x", "\u202e\u0041", "\ufeff", "\u3000", "\U0001d54f\U0001f60b",
    "\uff21", "İ", "ß", "2026-02-30", "9999-12-31", "0001-01-01", "1970-01-01", "2020-01-01",
]  # fmt: skip


@st.composite
def huge(draw: st.DrawFn) -> str:
    """Just past the limits the forms have (60, 120, 500, 2000, 5000) and far beyond."""
    return draw(st.sampled_from(["a", "é", "😋", " ", "\n", "1", "<"])) * draw(
        st.sampled_from([61, 121, 501, 2001, 5001, 70_000])
    )


def junk() -> st.SearchStrategy[str | bytes]:
    """Arbitrary text a form field or query parameter may carry."""
    return st.one_of(
        st.sampled_from(SPECIAL),
        st.text(max_size=40),
        st.integers(min_value=-(2**70), max_value=2**70).map(str),
        st.floats().map(str),
        st.dates().map(str),
        huge(),
        st.binary(min_size=1, max_size=12),  # not UTF-8 at all, on the wire
    )


def _weighted(
    valid: st.SearchStrategy, other: st.SearchStrategy, valid_share: int
) -> st.SearchStrategy:
    """``valid`` ``valid_share`` times in four. (``one_of`` would flatten ``other``'s branches
    into its own and pick among them all alike, so the valid values would be rare.)"""
    pick = st.sampled_from([True] * valid_share + [False] * (4 - valid_share))
    return pick.flatmap(lambda use_valid: valid if use_valid else other)


def one(*valid: object) -> st.SearchStrategy[str | bytes]:
    """A valid value (half the time) or junk."""
    if not valid:
        return junk()
    values = [v if isinstance(v, Fresh) else str(v) for v in valid]
    return _weighted(st.sampled_from(values), junk(), 2)


def ids(*valid: object) -> st.SearchStrategy[str | bytes]:
    """An integer path argument: a real id (three times in four), any integer (negative,
    huge), or not a number."""
    odd = st.one_of(
        st.integers(min_value=-3, max_value=2**70).map(str),
        st.sampled_from(["0", "00", "1.0", "abc", "", "%20"]),
    )
    return _weighted(st.sampled_from([str(v) for v in valid]), odd, 3)


def file_upload() -> st.SearchStrategy[tuple[bytes, str]]:
    """(bytes, filename) for a file field: a real JPEG, junk bytes, or nothing at all."""
    return st.tuples(
        st.one_of(st.just(JPEG), st.binary(max_size=64), st.just(b"<svg onload=alert(1)>")),
        st.sampled_from(["dish.jpg", "", "x.svg", "../../evil.php", "😋.png", "a" * 300]),
    )


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), (200, 120, 40)).save(buffer, "JPEG")
    return buffer.getvalue()


JPEG = _jpeg()


# ---------------------------------------------------------------------------------------------
# Cases


Values = Callable[["Ctx"], st.SearchStrategy]


@dataclass(frozen=True)
class Fresh:
    """A value made anew for each example (a token that an example may use up), by name."""

    name: str


@dataclass(frozen=True)
class Case:
    """How to reach one (endpoint, method) and what its success looks like."""

    endpoint: str
    method: str
    who: str = "diner"  # diner | admin | anonymous
    path: dict[str, Values] = field(default_factory=dict)
    query: dict[str, Values] = field(default_factory=dict)
    form: dict[str, Values] = field(default_factory=dict)
    files: tuple[str, ...] = ()
    prepare: Callable[[Ctx], None] | None = None  # per example, before the request is built
    ok_200: bool = False  # a POST answered 200 is a success (HTMX fragment, a created token)
    quiet_redirect: bool = False  # may redirect without writing or flashing (a wizard step)
    extra_state: Callable[[Ctx], object] | None = None  # more than PostgreSQL to compare
    prepare_writes: bool = False  # ``prepare`` writes to PostgreSQL: digest after it, each time

    @property
    def examples(self) -> int:
        """Fewer for a page whose only input is a query string it never reads."""
        if self.method == "GET" and not self.path and not self.query:
            return max(5, EXAMPLES // 5)
        return EXAMPLES

    @property
    def id(self) -> str:
        return f"{self.endpoint}-{self.method}"


@dataclass
class Ctx:
    """The world of one case: its data, its client, values made fresh for each example."""

    app: Flask
    client: BrowserClient
    who: str
    world: dict[str, Any]
    token: str = ""
    fresh: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.world[name]
        except KeyError:
            raise AttributeError(name) from None


def _const(*values: object) -> Values:
    return lambda ctx: one(*values)


NEXT = {"next": _const("/me/rankings", "/search?q=laksa")}
REVIEW_FIELDS: dict[str, Values] = {
    "rating": _const(1, 2, 3, 4, 5),
    "title": _const("Great laksa"),
    "body": _const("Proper wok hei, would come back."),
    "visited_on": _const("2024-05-01", "2099-01-01"),
    "dish_id": lambda ctx: one("", ctx.dish.id, ctx.other_dish.id),
}
FLAG_FIELDS: dict[str, Values] = {
    "description": _const("Fuzzed"),
    "enabled": _const("y", ""),
    "rollout": _const(0, 50, 100, 101, -1),
    "users": _const("1, 2", "12 40"),
    "roles": _const("diner", "admin"),
    "cities": lambda ctx: one(ctx.city.slug),
    "default": _const("y"),
    "version": lambda ctx: one(Fresh("version"), 0, 1),
}
EXPERIMENT_FIELDS: dict[str, Values] = {
    "description": _const("Fuzzed"),
    "enabled": _const("y", ""),
    "variants": _const("a 50\nb 50", "a 0\nb 0", "a 50", "a x\nb y", "A 1\nB 1"),
    "version": lambda ctx: one(Fresh("version"), 0, 1),
}
SEARCH_QUERY: dict[str, Values] = {
    "q": _const("laksa", "Restoran"),
    "city": lambda ctx: one(ctx.city.slug),
    "cuisine": lambda ctx: one(ctx.cuisine.slug),
    "price": _const(1, 2, 3, 4, 5),
    "diet": _const("halal", "vegetarian"),
    "open_now": _const("1", "yes"),
    "near": _const("3.1478,101.6953", "91,0", "x,y", "1,2,3"),
    "radius_km": _const(3, 0.01, 51),
    "sort": _const("best", "popular", "trending", "nearest", "newest"),
    "cursor": _const("WyJiZXN0IiwxLDFd", "WyJuZXdlc3QiLCJ4IiwxXQ", "!!!"),
    "all": _const("1"),
}


def _version_of(kind: type, name: str) -> Callable[[Ctx], None]:
    def prepare(ctx: Ctx) -> None:
        with ctx.app.app_context():
            stored = flag_storage.get(kind, name)
        ctx.fresh["version"] = stored.version if stored else 0

    return prepare


def _fresh_state(ctx: Ctx) -> None:
    """A live API-token wizard state of the diner's (confirming uses it up)."""
    with ctx.app.app_context():
        data = {"form": "api-token", "name": "laptop", "days": 30}
        ctx.fresh["state"], _ = token_storage.issue("state", ctx.diner.id, 600, data=data)


def _fresh_api_token(ctx: Ctx) -> None:
    with ctx.app.app_context():
        _, token = token_storage.issue("api", ctx.diner.id, 3600, name="script")
    ctx.fresh["token_id"] = token.id


def _fresh_reset(ctx: Ctx) -> None:
    """A live reset link of the diner's, followed by this browser or not."""
    with ctx.app.app_context():
        ctx.fresh["reset"], _ = token_storage.issue("reset", ctx.diner.id, 600)


SETUP_SECRET = "KRUGS4ZANFZSAYJAONSWG4TFOQQGM33S"  # an app being set up (base32)


def _halfway_signed_in(ctx: Ctx) -> None:
    """This browser gave the right password of the diner with two-step sign-in on; a code from
    their app, and one of their recovery codes, for the example to type."""
    pending = {"user": ctx.two_step.id, "next": "/", "until": time.time() + 300, "wrong": 0,
               "password": two_factor_views._fingerprint(ctx.two_step)}  # fmt: skip
    with ctx.client.session_transaction() as session:
        session["two_factor_login"] = pending
    _codes_of(ctx, ctx.two_step)


def _codes_of(ctx: Ctx, user: Any) -> None:
    ctx.fresh["code"] = pyotp.TOTP(TEST_TOTP_SECRET).now()
    ctx.fresh["recovery"] = two_factor.replace_recovery_codes(user)[0]
    db.session.flush()


def _setting_up(ctx: Ctx) -> None:
    """The diner opened the setup page: the app's secret waits in the session."""
    setup = {"user": ctx.diner.id, "secret": two_factor.encrypt(SETUP_SECRET)}
    with ctx.client.session_transaction() as session:
        session["two_factor_setup"] = setup
    ctx.fresh["code"] = pyotp.TOTP(SETUP_SECRET).now()


def _two_step_on(ctx: Ctx) -> None:
    """The diner has two-step sign-in on (undone with the example)."""
    db.session.add(TwoFactor(user_id=ctx.diner.id, secret=two_factor.encrypt(TEST_TOTP_SECRET)))
    _codes_of(ctx, ctx.diner)


def _sessions_of_diner(ctx: Ctx) -> None:
    """Another session of the diner's (another device), to end by its handle."""
    other_device = BrowserClient(ctx.app, ctx.app.response_class, use_cookies=True)
    sign_in(other_device, ctx.diner)
    session_id = other_device.get_cookie("session").value
    ctx.fresh["handle"] = handle(session_id)


def _flags_state(ctx: Ctx) -> object:
    with ctx.app.app_context():
        stored_flags, stored_experiments = flag_storage.list_all()
    return sorted(map(repr, [*stored_flags.values(), *stored_experiments.values()]))


def _tokens_state(ctx: Ctx) -> object:
    """The diner's API tokens and token-wizard states, as stored in DynamoDB."""
    with ctx.app.app_context():
        return sorted(
            (kind, t.id, t.data if isinstance(t.data, dict) else None)
            for kind in ("api", "state")
            for t in token_storage.for_user(ctx.diner.id, kind)
        )


def _cases() -> list[Case]:
    diner_pages = [
        Case("rankings.mine", "GET"),
        Case("rankings.history", "GET"),
        Case("votes.mine", "GET"),
        Case("leaderboards.index", "GET"),
        Case("accounts.settings", "GET"),
    ]
    review_id: Values = lambda ctx: ids(ctx.my_review.id, ctx.other_review.id)  # noqa: E731
    comment_id: Values = lambda ctx: ids(ctx.my_comment.id, ctx.other_comment.id)  # noqa: E731
    ranking_id: Values = lambda ctx: ids(  # noqa: E731
        ctx.my_ranking.id, ctx.my_second.id, ctx.my_mark.id, ctx.other_ranking.id
    )
    dish_id: Values = lambda ctx: ids(ctx.dish.id, ctx.side.id, ctx.other_dish.id)  # noqa: E731
    slug: Values = lambda ctx: one(  # noqa: E731
        ctx.restaurant.slug, ctx.other_restaurant.slug, ctx.closed_restaurant.slug
    )
    photo_id: Values = lambda ctx: ids(ctx.my_photo.id)  # noqa: E731
    flag_name: Values = lambda ctx: one("fuzz-flag", "leaderboard-compact-layout", "new")  # noqa: E731
    experiment_name: Values = lambda ctx: one("fuzz-exp", "home-search-placeholder")  # noqa: E731
    return [
        *diner_pages,
        # Signing in, up and out, and password resets: nobody signed in.
        Case("accounts.login", "GET", "anonymous", query=NEXT),
        Case(
            "accounts.login",
            "POST",
            "anonymous",
            query=NEXT,
            form={
                "identifier": lambda ctx: one(ctx.diner.username, ctx.diner.email),
                "password": _const(TEST_PASSWORD),
            },
        ),
        Case("accounts.register", "GET", "anonymous", query=NEXT),
        Case(
            "accounts.register",
            "POST",
            "anonymous",
            query=NEXT,
            form={
                "username": lambda ctx: one("fuzz_newcomer", ctx.diner.username, "Ab"),
                "email": lambda ctx: one("newcomer@example.com", ctx.diner.email, "x@"),
                "display_name": _const("Newcomer"),
                "password": _const(TEST_PASSWORD, "password1234", "short"),
                "confirm": _const(TEST_PASSWORD, "password1234"),
            },
        ),
        Case("accounts.logout", "POST", "anonymous"),
        Case("accounts.forgot", "GET", "anonymous"),
        Case(
            "accounts.forgot",
            "POST",
            "anonymous",
            form={"identifier": lambda ctx: one(ctx.diner.username, ctx.diner.email)},
        ),
        Case("accounts.reset", "GET", "anonymous", prepare=_fresh_reset),
        Case(
            "accounts.reset",
            "POST",
            "anonymous",
            prepare=_fresh_reset,
            form={
                "password": _const(TEST_PASSWORD + "!", "password1234", "short"),
                "confirm": _const(TEST_PASSWORD + "!", "password1234"),
            },
        ),
        *(
            Case(
                "accounts.reset_link",
                method,
                "anonymous",
                prepare=_fresh_reset,
                path={"token": lambda ctx: one(Fresh("reset"), "reset_x")},
                quiet_redirect=True,  # on to /auth/reset, where the form is
            )
            for method in ("GET", "POST")
        ),
        # Account settings, sessions and API tokens.
        Case(
            "accounts.settings",
            "POST",
            form={
                "section": _const("profile", "preferences"),
                "profile-display_name": _const("Siti"),
                "profile-bio": _const("Hawker fan"),
                "profile-home_city_id": lambda ctx: one("", ctx.city.id),
                "profile-remove_avatar": _const("y"),
                "preferences-favourite_cuisines": lambda ctx: one(ctx.cuisine.id),
                "preferences-dietary_needs": _const("halal", "vegetarian"),
                "preferences-price_min": _const("", 1, 4),
                "preferences-price_max": _const("", 1, 4),
            },
            files=("profile-avatar",),
        ),
        # Two-step sign-in: the log-in's second step, setting it up, new codes, turning it off.
        Case(
            "accounts.two_factor_login",
            "GET",
            "anonymous",
            prepare=_halfway_signed_in,
            prepare_writes=True,
        ),
        Case(
            "accounts.two_factor_login",
            "POST",
            "anonymous",
            prepare=_halfway_signed_in,
            prepare_writes=True,
            form={"code": lambda ctx: one(Fresh("code"), Fresh("recovery"), "123456")},
        ),
        Case("accounts.two_factor_settings", "GET", prepare=_setting_up),
        Case(
            "accounts.enable_two_factor",
            "POST",
            prepare=_setting_up,
            form={
                "code": lambda ctx: one(Fresh("code"), "000000"),
                "password": _const(TEST_PASSWORD, "not the password"),
            },
            ok_200=True,  # the page with the recovery codes
        ),
        Case(
            "accounts.new_recovery_codes",
            "POST",
            prepare=_two_step_on,
            prepare_writes=True,
            form={"code": lambda ctx: one(Fresh("code"), Fresh("recovery"))},
            ok_200=True,  # the page with the new codes
        ),
        Case(
            "accounts.disable_two_factor",
            "POST",
            prepare=_two_step_on,
            prepare_writes=True,
            form={
                "password": _const(TEST_PASSWORD),
                "code": lambda ctx: one(Fresh("code"), Fresh("recovery")),
            },
        ),
        Case("accounts.change_password", "GET"),
        Case(
            "accounts.change_password",
            "POST",
            form={
                "current": _const(TEST_PASSWORD),
                "password": _const(
                    TEST_PASSWORD + " again", TEST_PASSWORD, "password1234", "short"
                ),
                "confirm": _const(TEST_PASSWORD + " again", "password1234"),
            },
        ),
        Case(
            "accounts.end_session",
            "POST",
            prepare=_sessions_of_diner,
            form={
                "scope": _const("all", "others"),
                "handle": lambda ctx: one(Fresh("handle")),
            },
        ),
        Case(
            "accounts.revoke_token",
            "POST",
            prepare=_fresh_api_token,
            extra_state=_tokens_state,
            path={
                "token_id": lambda ctx: one(
                    Fresh("token_id"), ctx.other_token_id, "0" * 64, "A" * 64
                )
            },
        ),
        Case(
            "accounts.new_token",
            "GET",
            prepare=_fresh_state,
            query={"state": lambda ctx: one(Fresh("state"), ctx.other_state)},
        ),
        Case(
            "accounts.new_token",
            "POST",
            prepare=_fresh_state,
            query={"state": lambda ctx: one(Fresh("state"), ctx.other_state)},
            form={"name": _const("laptop"), "days": _const(30, 90, 365)},
            quiet_redirect=True,  # step 1 redirects to step 2 (its state is in DynamoDB)
            extra_state=_tokens_state,
        ),
        *(
            Case(
                "accounts.confirm_token",
                method,
                prepare=_fresh_state,
                path={"state": lambda ctx: one(Fresh("state"), ctx.other_state)},
                form={"password": _const(TEST_PASSWORD)} if method == "POST" else {},
                ok_200=True,  # the page showing the new token's secret
                extra_state=_tokens_state,
            )
            for method in ("GET", "POST")
        ),
        # Reviews and comments.
        Case("reviews.create", "GET", path={"slug": slug}),
        Case(
            "reviews.create", "POST", path={"slug": slug}, form=REVIEW_FIELDS, files=("new_photos",)
        ),
        Case("reviews.edit", "GET", path={"review_id": review_id}),
        Case(
            "reviews.edit",
            "POST",
            path={"review_id": review_id},
            form={**REVIEW_FIELDS, "remove_photos": lambda ctx: one(ctx.my_photo.id)},
            files=("new_photos",),
        ),
        Case("reviews.delete", "POST", path={"review_id": review_id}),
        Case(
            "reviews.comment",
            "POST",
            path={"review_id": review_id},
            form={"body": _const("Agree!")},
        ),
        Case("reviews.edit_comment", "GET", path={"comment_id": comment_id}),
        Case(
            "reviews.edit_comment",
            "POST",
            path={"comment_id": comment_id},
            form={"body": _const("Agree!")},
        ),
        Case("reviews.delete_comment", "POST", path={"comment_id": comment_id}),
        # Rankings and votes.
        Case("rankings.rank_dish", "GET", path={"dish_id": dish_id}, query=NEXT),
        Case(
            "rankings.rank_dish",
            "POST",
            path={"dish_id": dish_id},
            form={
                "choice": _const(1, 2, 3, 5, "acceptable", "second_chance", "dissatisfied"),
                "notes": _const("Best in town."),
                **NEXT,
            },
            files=("photo",),
        ),
        Case(
            "rankings.move",
            "POST",
            path={"ranking_id": ranking_id},
            form={"direction": _const("up", "down")},
            ok_200=True,
        ),
        Case("rankings.remove", "POST", path={"ranking_id": ranking_id}, ok_200=True),
        Case(
            "votes.vote_dish",
            "POST",
            path={"dish_id": dish_id},
            form={"value": _const("like", "dislike"), **NEXT},
            ok_200=True,
        ),
        Case(
            "votes.vote_review",
            "POST",
            path={"review_id": review_id},
            form={"value": _const("helpful", "not_helpful"), **NEXT},
            ok_200=True,
        ),
        # Browsing: query strings and path arguments.
        Case("restaurants.index", "GET", query={"city": lambda ctx: one(ctx.city.slug, "all")}),
        Case(
            "restaurants.detail",
            "GET",
            path={"slug": slug},
            query={"reviews": _const("helpful", "newest"), "page": _const(1, 2, 1000, 1001)},
        ),
        Case(
            "restaurants.contact",
            "GET",
            path={
                "restaurant_id": lambda ctx: ids(ctx.restaurant.id, ctx.other_restaurant.id),
                "link": _const("phone", "website", "directions"),
            },
        ),
        Case("search.search", "GET", query=SEARCH_QUERY),
        Case(
            "leaderboards.dish_type", "GET", path={"type_slug": lambda ctx: one(ctx.dish_type.slug)}
        ),
        Case(
            "leaderboards.city_board",
            "GET",
            path={
                "type_slug": lambda ctx: one(ctx.dish_type.slug),
                "city_slug": lambda ctx: one(ctx.city.slug, ctx.other_city.slug),
            },
            query={"after": _const(0, 50, 999999999, 1000000000)},
        ),
        Case(
            "accounts.profile",
            "GET",
            path={
                "username": lambda ctx: one(
                    ctx.diner.username, ctx.diner.username.upper(), ctx.other.username
                )
            },
        ),
        Case("photos.show", "GET", path={"photo_id": photo_id}),
        Case("photos.thumbnail", "GET", path={"photo_id": photo_id}),
        # The operators' pages.
        Case("admin.dashboard", "GET", "admin"),
        Case("admin.flag_list", "GET", "admin"),
        Case("admin.new_flag", "GET", "admin", query={"name": flag_name}),
        Case(
            "admin.new_flag",
            "POST",
            "admin",
            form={"name": _const("fuzz-new", "fuzz-flag", "new", "Bad Name"), **FLAG_FIELDS},
            prepare=_version_of(Flag, "fuzz-new"),
            extra_state=_flags_state,
        ),
        Case("admin.edit_flag", "GET", "admin", path={"name": flag_name}),
        Case(
            "admin.edit_flag",
            "POST",
            "admin",
            path={"name": flag_name},
            form=FLAG_FIELDS,
            prepare=_version_of(Flag, "fuzz-flag"),
            extra_state=_flags_state,
        ),
        Case(
            "admin.toggle_flag",
            "POST",
            "admin",
            path={"name": flag_name},
            form={"version": FLAG_FIELDS["version"]},
            prepare=_version_of(Flag, "fuzz-flag"),
            ok_200=True,
            extra_state=_flags_state,
        ),
        Case("admin.new_experiment", "GET", "admin", query={"name": experiment_name}),
        Case(
            "admin.new_experiment",
            "POST",
            "admin",
            form={"name": _const("fuzz-new-exp", "fuzz-exp"), **EXPERIMENT_FIELDS},
            prepare=_version_of(Experiment, "fuzz-new-exp"),
            extra_state=_flags_state,
        ),
        Case("admin.edit_experiment", "GET", "admin", path={"name": experiment_name}),
        Case(
            "admin.edit_experiment",
            "POST",
            "admin",
            path={"name": experiment_name},
            form=EXPERIMENT_FIELDS,
            prepare=_version_of(Experiment, "fuzz-exp"),
            extra_state=_flags_state,
        ),
        Case(
            "admin.toggle_experiment",
            "POST",
            "admin",
            path={"name": experiment_name},
            form={"version": EXPERIMENT_FIELDS["version"]},
            prepare=_version_of(Experiment, "fuzz-exp"),
            ok_200=True,
            extra_state=_flags_state,
        ),
    ]


CASES = _cases()


def html_routes(app: Flask) -> set[tuple[str, str]]:
    """(endpoint, method) of every route of the HTML app: all but the API and static files."""
    found = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.rule.startswith("/api/"):
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            found.add((rule.endpoint, method))
    return found


def test_every_html_route_is_fuzzed(app):
    """A new route (or a new method on one) fails here until it gets a case or an exclusion."""
    routes = html_routes(app)
    covered = {(case.endpoint, case.method) for case in CASES}
    assert len(covered) == len(CASES), "a route has two cases"
    assert set(EXCLUDED) <= routes, f"stale exclusions: {set(EXCLUDED) - routes}"
    assert not covered & set(EXCLUDED)
    assert covered == routes - set(EXCLUDED), (
        f"routes without a fuzz case: {sorted(routes - set(EXCLUDED) - covered)}; "
        f"cases for routes that don't exist: {sorted(covered - routes)}"
    )


# ---------------------------------------------------------------------------------------------
# The world each case runs in


def _empty_flags(app: Flask) -> None:
    """Flags and experiments live in DynamoDB (not rolled back): leave none behind."""
    from bellyfed import flags

    with app.app_context():
        items = table("flags")
        keys = items.scan(ProjectionExpression="pk, sk")["Items"]
        with items.batch_writer() as batch:
            for key in keys:
                batch.delete_item(Key={"pk": key["pk"], "sk": key["sk"]})
        flags.reset_cache()


@pytest.fixture(scope="module")
def fuzz_world(app: Flask) -> Iterator[dict[str, Any]]:
    """One world for the whole module (every example is rolled back, so it stays as made here):
    ``db.session`` on one connection whose outer transaction is rolled back at the end, as
    tests/conftest.py's ``db_session`` does for a single test."""
    with rolled_back_session(app):
        try:
            yield _make_world(app)
        finally:
            _empty_flags(app)
            _redis().flushdb()


def _redis() -> redis.Redis:
    return redis.Redis.from_url(TEST_REDIS_URL)


def _make_world(app: Flask) -> dict[str, Any]:
    """A diner who owns one of everything, another diner who owns the same, and an operator."""
    city, other_city = CityFactory(), CityFactory()
    cuisine = CuisineFactory()
    dish_type = DishTypeFactory()
    restaurant = RestaurantFactory(
        city=city, phone="+60 3 1234 5678", website="https://example.com/"
    )
    other_restaurant = RestaurantFactory(city=other_city)
    closed_restaurant = RestaurantFactory(city=city, is_active=False)
    OperatingHoursFactory(restaurant=restaurant)
    dish, second = (
        DishFactory(restaurant=restaurant, dish_type=dish_type),
        DishFactory(restaurant=restaurant, dish_type=dish_type),
    )
    third = DishFactory(restaurant=restaurant, dish_type=dish_type)
    side = DishFactory(restaurant=restaurant, dish_type=None, name="Teh tarik")
    other_dish = DishFactory(restaurant=other_restaurant, dish_type=dish_type)
    diner, other = UserFactory(), UserFactory()
    two_step = UserFactory(two_factor=True)
    admin = UserFactory(role="admin")
    my_review = ReviewFactory(user_id=diner.id, restaurant_id=restaurant.id)
    other_review = ReviewFactory(user_id=other.id, restaurant_id=restaurant.id)
    my_photo = PhotoFactory(uploader_id=diner.id, review_id=my_review.id)
    ranking_photo = PhotoFactory(uploader_id=diner.id)
    world = {
        "city": city, "other_city": other_city, "cuisine": cuisine, "dish_type": dish_type,
        "restaurant": restaurant, "other_restaurant": other_restaurant,
        "closed_restaurant": closed_restaurant, "dish": dish, "side": side,
        "other_dish": other_dish, "diner": diner, "other": other, "admin": admin,
        "two_step": two_step,
        "my_review": my_review, "other_review": other_review, "my_photo": my_photo,
        "my_comment": CommentFactory(review=other_review, user_id=diner.id),
        "other_comment": CommentFactory(review=my_review, user_id=other.id),
        "my_ranking": RankingFactory(user_id=diner.id, dish_id=dish.id, position=1,
                                     notes="Best", photo_id=ranking_photo.id),
        "my_second": RankingFactory(user_id=diner.id, dish_id=second.id, position=2,
                                    notes="Close", photo_id=ranking_photo.id),
        "my_mark": RankingFactory(user_id=diner.id, dish_id=third.id, position=None,
                                  taste_status="acceptable"),
        "other_ranking": RankingFactory(user_id=other.id, dish_id=dish.id, position=1),
    }  # fmt: skip
    DishVoteFactory(user_id=diner.id, dish_id=dish.id, value=1)
    ReviewVoteFactory(user_id=diner.id, review_id=other_review.id, value=1)
    db.session.commit()  # releases the factories' savepoint: every example starts from here
    with app.app_context():
        _, other_token = token_storage.issue("api", other.id, 3600, name="theirs")
        world["other_token_id"] = other_token.id
        data = {"form": "api-token", "name": "theirs", "days": 30}
        world["other_state"], _ = token_storage.issue("state", other.id, 600, data=data)
    _empty_flags(app)
    with app.app_context():
        flag_storage.put(Flag(name="fuzz-flag", rollout=10), 0, "tester", "fuzz")
        variants = (Variant("a", 50), Variant("b", 50))
        flag_storage.put(Experiment(name="fuzz-exp", variants=variants), 0, "tester", "fuzz")
    return world


def sign_in(client: BrowserClient, user: Any) -> None:
    """A signed-in session made directly (the log-in form and its argon2 check are fuzzed on
    their own; paying for them in every case would cost ~0.25 s each)."""
    with client.session_transaction() as session:
        session["_user_id"] = str(user.id)
        session["_fresh"] = True
        session["two_factor_at"] = time.time()  # as the second step leaves it (when there is one)


def _new_client(ctx: Ctx) -> None:
    """A fresh browser, signed in as the case's user, with its CSRF token."""
    ctx.client = BrowserClient(ctx.app, ctx.app.response_class, use_cookies=True)
    if ctx.who != "anonymous":
        sign_in(ctx.client, ctx.admin if ctx.who == "admin" else ctx.diner)
    # Any page a signed-in user gets carries the token; nobody's: the log-in form.
    ctx.token = csrf_token(ctx.client, "/auth/login" if ctx.who == "anonymous" else "/dishes")


# ---------------------------------------------------------------------------------------------
# Drawing a request


def _wire(value: str | bytes) -> str:
    return quote_plus(value)


def _resolve(ctx: Ctx, value: object) -> str | bytes:
    if isinstance(value, Fresh):
        return str(ctx.fresh[value.name])
    return value  # type: ignore[return-value]


def _fields(ctx: Ctx, spec: dict[str, Values], extra_names: list[str]) -> st.SearchStrategy:
    """(name, value) pairs: each field missing, once or repeated; then maybe extra fields."""
    per_field = [
        st.sampled_from([1, 1, 1, 1, 0, 2]).flatmap(
            lambda times, name=name, values=values: st.lists(
                values(ctx).map(lambda value, name=name: (name, value)),
                min_size=times, max_size=times,
            )
        )
        for name, values in spec.items()
    ]  # fmt: skip
    extra = st.lists(
        st.tuples(st.sampled_from(extra_names) | st.text(max_size=8), junk()), max_size=2
    )
    return st.tuples(*per_field, extra).map(lambda parts: [pair for part in parts for pair in part])


def plans(ctx: Ctx, case: Case) -> st.SearchStrategy[dict[str, Any]]:
    """Everything one request is made of (built once per case; ``Fresh`` values are filled in
    per example)."""
    plan = {
        "path": st.fixed_dictionaries({name: values(ctx) for name, values in case.path.items()}),
        "query": _fields(ctx, case.query, ["next", "page", "q", "x"]),
        "htmx": st.booleans(),
    }
    if case.method != "GET":
        plan["form"] = _fields(ctx, case.form, ["x", "id", "user_id", "is_admin", "role", ""])
        plan["files"] = st.fixed_dictionaries(
            {name: st.lists(file_upload(), max_size=2) for name in case.files}
        )
        # A browser sends any form multipart when it says enctype="multipart/form-data".
        plan["multipart"] = st.booleans()
    if case.endpoint == "accounts.reset":
        plan["follow_link"] = st.booleans()  # the emailed link opened first: its secret kept
    return st.fixed_dictionaries(plan)


@dataclass
class Request:
    method: str
    url: str
    headers: dict[str, str]
    body: dict[str, Any]  # kwargs for client.open

    def describe(self) -> str:
        shown = {k: (v if len(repr(v)) < 400 else repr(v)[:400] + "...") for k, v in
                 self.body.items()}  # fmt: skip
        return f"{self.method} {self.url[:300]} headers={self.headers} {shown}"


def build_request(ctx: Ctx, case: Case, plan: dict[str, Any]) -> Request:
    path = next(iter(ctx.app.url_map.iter_rules(case.endpoint))).rule
    for name, value in plan["path"].items():
        path = re.sub(rf"<(?:\w+:)?{name}>", quote(_resolve(ctx, value), safe=""), path)
    query = [(name, _resolve(ctx, value)) for name, value in plan["query"]]
    url = path + ("?" + "&".join(f"{_wire(k)}={_wire(v)}" for k, v in query) if query else "")
    headers = {"HX-Request": "true"} if plan["htmx"] else {}
    if case.method == "GET":
        return Request("GET", url, headers, {})
    pairs = [(name, _resolve(ctx, value)) for name, value in plan["form"]]
    if plan["htmx"]:
        headers["X-CSRFToken"] = ctx.token
    else:
        pairs.insert(0, ("csrf_token", ctx.token))
    files = plan["files"]
    if plan["multipart"] or any(files.values()):
        form: dict[str, list] = {}
        for name, value in pairs:
            text = value if isinstance(value, str) else value.decode("utf-8", "replace")
            form.setdefault(name, []).append(text)
        for name, uploads in files.items():
            form.setdefault(name, []).extend((io.BytesIO(b), n) for b, n in uploads)
        body = {"data": form, "content_type": "multipart/form-data"}
    else:
        encoded = "&".join(f"{_wire(k)}={_wire(v)}" for k, v in pairs)
        body = {"data": encoded, "content_type": "application/x-www-form-urlencoded"}
    return Request(case.method, url, headers, body)


# ---------------------------------------------------------------------------------------------
# Running the examples


def _digest(ctx: Ctx, case: Case | None = None, tables: object = None) -> object:
    """What the forms may write: every table's rows (``tables`` if known already), and the
    case's DynamoDB state if it has one."""
    if tables is None:
        tables = [tuple(r) for r in db.session.get_bind().execute(DIGEST).all()]
    extra = case.extra_state(ctx) if case and case.extra_state else None
    return tables, extra


def _check(ctx: Ctx, case: Case, request: Request, response: TestResponse, before: object) -> None:
    status = response.status_code
    if os.environ.get("FORM_FUZZ_TRACE"):
        print(f"{status} {request.describe()[:300]}", file=sys.stderr)
    STATUSES[status] += 1
    CASE_STATUSES.setdefault(case.id, Counter())[status] += 1
    where = f"{case.id}: {request.describe()} -> {status}"
    body = response.get_data(as_text=True)
    if status >= 500:
        FIVE_HUNDREDS.append(where)
    assert status < 500, f"{where}\n{body[:3000]}"
    refused = status >= 400 or (request.method == "POST" and status == 200 and not case.ok_200)
    if refused:
        assert MESSAGE.search(body), f"refused without a message: {where}\n{body[:3000]}"
        assert _digest(ctx, case) == before, f"a refused request wrote: {where}"
    elif (
        # 301/308 are the router's (a double slash merged), not the view's answer.
        request.method == "POST" and status in (302, 303) and not case.quiet_redirect
        and _digest(ctx, case) == before
    ):  # fmt: skip
        # Nothing changed: the page it leads to must say why (an error or "already gone").
        location = urlsplit(response.headers["Location"])
        target = location.path + (f"?{location.query}" if location.query else "")
        page = ctx.client.get(target, follow_redirects=True)
        assert FLASH.search(page.get_data(as_text=True)), (
            f"a redirect that changed nothing, with no message: {where} -> {target}"
        )


def _signed_out(response: TestResponse) -> bool:
    location = response.headers.get("Location", "")
    return response.status_code in (301, 302, 303) and "/auth/login" in location


@contextmanager
def rolled_back() -> Iterator[None]:
    """Whatever the requests inside write to PostgreSQL is undone afterwards."""
    savepoint = db.session.get_bind().begin_nested()
    try:
        yield
    finally:
        if savepoint.is_active:
            savepoint.rollback()


def fuzz(ctx: Ctx, case: Case) -> None:
    _new_client(ctx)
    tables, _ = _digest(ctx)  # the same before every example: each one is rolled back

    @settings(FUZZ, max_examples=case.examples)
    @seed(zlib.crc32(case.id.encode()))
    @given(plan=plans(ctx, case))
    def example(plan: dict[str, Any]) -> None:
        RUN[case.id] += 1
        with rolled_back():
            ctx.fresh.clear()
            if case.prepare:
                case.prepare(ctx)
            if plan.get("follow_link"):
                ctx.client.get(f"/auth/reset/{ctx.fresh['reset']}")  # keeps it in the session
            request = build_request(ctx, case, plan)
            before = _digest(ctx, case, None if case.prepare_writes else tables)
            try:
                response = ctx.client.open(
                    request.url, method=request.method, headers=request.headers, **request.body
                )
            except Exception as exc:  # TESTING propagates what would be a 500 in production
                FIVE_HUNDREDS.append(f"{case.id}: {request.describe()} -> {exc!r}")
                raise
            _check(ctx, case, request, response, before)
        # Signed out (ended all sessions, a new password) or signed in (anonymous pages): start
        # the next example with the browser the case is about.
        if (ctx.who == "anonymous" and 300 <= response.status_code < 400) or (
            ctx.who != "anonymous" and _signed_out(response)
        ):
            _new_client(ctx)

    example()


class _Report:
    """Prints the counts for the issue note in pytest's terminal summary (no ``-s`` needed)."""

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not RUN:
            return
        terminalreporter.section("HTML form fuzzing")
        terminalreporter.write_line(
            f"{sum(RUN.values())} examples run over {len(RUN)} routes "
            f"({EXAMPLES} per route, fewer for input-less pages); "
            f"statuses {dict(sorted(STATUSES.items()))}; 5xx seen: {len(FIVE_HUNDREDS)}"
        )
        if os.environ.get("FORM_FUZZ_VERBOSE"):
            for case_id, statuses in sorted(CASE_STATUSES.items()):
                terminalreporter.write_line(f"  {case_id}: {dict(sorted(statuses.items()))}")


@pytest.fixture(scope="module", autouse=True)
def report(request: pytest.FixtureRequest) -> None:
    plugins = request.config.pluginmanager
    if not plugins.has_plugin("form-fuzz-report"):
        plugins.register(_Report(), "form-fuzz-report")


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_route_survives_fuzzing(case: Case, app, fuzz_world) -> None:
    _redis().flushdb()  # no login failures or reset requests counted by the cases before
    ctx = Ctx(app=app, client=None, who=case.who, world=fuzz_world)  # type: ignore[arg-type]
    fuzz(ctx, case)


# ---------------------------------------------------------------------------------------------
# Regressions: what the fuzzer found, pinned down


def _browser(app: Flask, world: dict[str, Any], who: str) -> Ctx:
    ctx = Ctx(app=app, client=None, who=who, world=world)  # type: ignore[arg-type]
    _new_client(ctx)
    return ctx


@pytest.mark.parametrize("version", [None, "", "seven"])
def test_flag_form_without_a_usable_version_says_so(app, fuzz_world, version):
    """Found by the fuzzer: a flag form posted without its hidden version (or with junk in it)
    was refused with a 400 whose page showed no reason (the field is hidden)."""
    ctx = _browser(app, fuzz_world, "admin")
    form = {"csrf_token": ctx.token, "description": "Changed", "rollout": "5"}
    if version is not None:
        form["version"] = version
    with app.app_context():
        stored = flag_storage.get(Flag, "fuzz-flag")
    response = ctx.client.post("/admin/flags/fuzz-flag", data=form)
    assert response.status_code == 400
    assert "This form was incomplete or out of date." in response.get_data(as_text=True)
    with app.app_context():
        assert flag_storage.get(Flag, "fuzz-flag") == stored


@pytest.mark.parametrize("remove", ["", "abc", "999999"])
def test_review_edit_with_a_photo_not_on_offer_says_so(app, fuzz_world, remove):
    """Found by the fuzzer: ``remove_photos`` naming no photo of the review made the form
    invalid (422) with no message on the page; the review must be left as it was."""
    ctx = _browser(app, fuzz_world, "diner")
    review = fuzz_world["my_review"]
    form = {"csrf_token": ctx.token, "rating": "2", "body": "Changed my mind.",
            "remove_photos": remove}  # fmt: skip
    with rolled_back():
        before = _digest(ctx)
        response = ctx.client.post(f"/reviews/{review.id}/edit", data=form)
        assert response.status_code == 422
        page = response.get_data(as_text=True)
        assert "Pick photos of this review to remove." in page
        assert _digest(ctx) == before


MALFORMED_PART = b'--b\r\nContent-Disposition: form-data; name="\\"\r\n\r\nx\r\n--b--\r\n'


def test_a_form_part_without_a_readable_name_is_a_400_not_a_500(app, fuzz_world):
    """Found by the fuzzer: a multipart part whose name Werkzeug can't parse (here
    ``name="\\"``) comes out of ``request.form`` under the key None, and Flask-WTF's CSRF check,
    looking for a prefixed token among the keys, calls ``None.endswith``: a 500 on every unsafe
    route, for anyone, before any view runs. It must be refused as a bad request."""
    ctx = _browser(app, fuzz_world, "anonymous")
    response = ctx.client.post(
        "/auth/login", data=MALFORMED_PART, content_type="multipart/form-data; boundary=b"
    )
    assert response.status_code == 400
    assert MESSAGE.search(response.get_data(as_text=True))
