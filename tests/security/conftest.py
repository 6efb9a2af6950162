"""Security tests: a small world of two diners and an operator, the app's routes enumerated from
``app.url_map``, the attack payloads, an HTML form reader and a DB fingerprint.

Everything here is general on purpose (tests/security/test_form_fuzz.py reuses it): attack tests
build URLs for *every* route with ``route_url`` (a route with an argument nobody taught
``ROUTE_VALUES`` fails loudly rather than going untested) and tally what they tried in ``COUNTS``,
which the run prints at the end (the issue's note quotes those numbers).
"""

from __future__ import annotations

import hashlib
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from werkzeug.routing import Rule
from werkzeug.test import TestResponse

from bellyfed.accounts import tokens as api_tokens
from bellyfed.accounts.models import User
from bellyfed.dynamo import tokens as token_storage
from bellyfed.extensions import db
from tests.factories import (
    CityFactory,
    CommentFactory,
    DishFactory,
    DishTypeFactory,
    PhotoFactory,
    RankingFactory,
    RestaurantFactory,
    ReviewFactory,
    UserFactory,
)
from tests.web import BrowserClient, log_in

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
API_PREFIX = "/api/"

# What each attack tried, summed over the run and printed at its end (see pytest_terminal_summary).
COUNTS: Counter[str] = Counter()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the attack tallies the issue note needs."""
    if not COUNTS:
        return
    terminalreporter.section("security attacks tried")
    for name in sorted(COUNTS):
        terminalreporter.write_line(f"{name}: {COUNTS[name]}")
    terminalreporter.write_line(f"total requests/payloads: {sum(COUNTS.values())}")


# --- payloads -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Payload:
    """An attack string, and the part of it that must never come back unescaped in HTML."""

    text: str
    raw: str  # a substring that, present in a page, would mean live markup or a leaked query


# Each payload stands for a family (more of a family adds requests, not coverage): a script
# element, breaking out of a quoted attribute into a new tag, a new attribute without any angle
# bracket, breaking out of a textarea, Jinja syntax (server-side template injection), a
# javascript: link; for SQL, a widened WHERE, a stacked DROP and a UNION (after a LIKE wildcard)
# that would leak hashes. Whatever the family, no payload may reach the text of a SQL statement.
XSS_PAYLOADS = (
    Payload('<script>alert("bfx1")</script>', '<script>alert("bfx1")'),
    Payload('"><img src=x onerror=alert("bfx2")>', '<img src=x onerror=alert("bfx2")>'),
    Payload('" autofocus onfocus="alert(4)" x="bfx4', '" autofocus onfocus="alert(4)"'),
    Payload("</textarea><script>bfx5()</script>", "</textarea><script>bfx5()"),
    Payload("{{ 'bfx' ~ 'ssti7' }}{% print('bfx' ~ 'ssti8') %}", "bfxssti"),
    Payload('<a href="javascript:alert(`bfx9`)">x</a>', '<a href="javascript:alert(`bfx9`)'),
)
SQL_PAYLOADS = (
    Payload("' OR '1'='1", "' OR '1'='1"),
    Payload("bfq2'; DROP TABLE users; --", "DROP TABLE users"),
    Payload("bfq4%' UNION SELECT password_hash, email FROM users --", "$argon2id$"),
)
PAYLOADS = XSS_PAYLOADS + SQL_PAYLOADS


def unescaped(page: str, payload: Payload) -> bool:
    """True when the payload's dangerous part is in the page as live text (not escaped)."""
    if payload in SQL_PAYLOADS:
        # A SQL payload is plain text: it may show, escaped or not (no markup in it); what
        # must never show is the answer of an injected query.
        return "$argon2id$" in page or "pg_catalog" in page or "syntax error" in page
    return payload.raw in page


# --- the world the attacks run in -------------------------------------------------------------


@dataclass
class World:
    """Alice owns things, Bob attacks them, Olga operates. Ids/secrets of Alice's objects."""

    alice: User
    bob: User
    olga: User
    restaurant: Any
    dish: Any
    review: Any  # Alice's, with Alice's comment and photo
    comment: Any
    ranking: Any
    photo: Any
    bob_review: Any  # for votes
    alice_token_secret: str = ""
    alice_token_id: str = ""
    alice_state: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@pytest.fixture
def world(app: Flask, db_session, redis_client) -> World:
    """Owned objects of every kind the write routes touch, flushed into the test transaction."""
    city = CityFactory()
    restaurant = RestaurantFactory(city=city)
    dish_type = DishTypeFactory()
    dish = DishFactory(restaurant=restaurant, dish_type=dish_type)
    alice = UserFactory(username="alice_sec", display_name="Alice", two_factor=True)
    bob = UserFactory(username="bob_sec", display_name="Bob")
    olga = UserFactory(username="olga_sec", display_name="Olga", role="admin")
    review = ReviewFactory(user_id=alice.id, restaurant_id=restaurant.id, body="Alice's words.")
    comment = CommentFactory(review=review, user_id=alice.id, body="Alice's comment.")
    photo = PhotoFactory(uploader_id=alice.id, review_id=review.id)
    ranking = RankingFactory(user_id=alice.id, dish_id=dish.id, photo_id=photo.id)
    bob_review = ReviewFactory(user_id=bob.id, restaurant_id=restaurant.id, body="Bob's words.")
    db_session.flush()
    with app.app_context():
        secret, token = api_tokens.create(alice, "alice laptop", 30)
        state, _ = token_storage.issue(
            "state", alice.id, 600, data={"form": "api-token", "name": "alice-wizard", "days": 30}
        )
    return World(
        alice=alice, bob=bob, olga=olga, restaurant=restaurant, dish=dish, review=review,
        comment=comment, ranking=ranking, photo=photo, bob_review=bob_review,
        alice_token_secret=secret, alice_token_id=token.id, alice_state=state,
    )  # fmt: skip


@pytest.fixture
def new_browser(app: Flask, db_session, redis_client) -> Callable[[User | None], BrowserClient]:
    """``new_browser(user)``: a fresh browser, signed in as ``user`` (or not). Signing in writes
    the server-side session directly (argon2 makes the form cost ~0.2 s a time);
    ``through_form=True`` uses the log-in form instead."""

    def make(user: User | None = None, *, through_form: bool = False) -> BrowserClient:
        client = BrowserClient(app, app.response_class, use_cookies=True)
        if user is not None and through_form:
            log_in(client, user.username)
        elif user is not None:
            sign_in(client, user)
        return client

    return make


def sign_in(client: BrowserClient, user: User) -> None:
    """What a successful log-in leaves in the session (Flask-Login's keys), in a new session."""
    with client.session_transaction() as session:
        session["_user_id"] = str(user.id)
        session["_fresh"] = True
        session["two_factor_at"] = time.time()  # as the second step leaves it (when there is one)


# --- routes -------------------------------------------------------------------------------------

# How to fill each URL argument of any route, from the world (Alice's objects by default).
ROUTE_VALUES: dict[str, Callable[[World], Any]] = {
    "review_id": lambda w: w.review.id,
    "comment_id": lambda w: w.comment.id,
    "dish_id": lambda w: w.dish.id,
    "ranking_id": lambda w: w.ranking.id,
    "restaurant_id": lambda w: w.restaurant.id,
    "photo_id": lambda w: w.photo.id,
    "slug": lambda w: w.restaurant.slug,
    "type_slug": lambda w: w.dish.dish_type.slug,
    "city_slug": lambda w: w.restaurant.city.slug,
    "username": lambda w: w.alice.username,
    "token_id": lambda w: w.alice_token_id,
    "state": lambda w: w.alice_state,
    "token": lambda w: "not-a-reset-secret",
    "name": lambda w: "bf-security-flag",
    "link": lambda w: "directions",
    "filename": lambda w: "css/bellyfed.css",
}


def route_url(rule: Rule, world: World, **overrides: Any) -> str:
    """A concrete URL for ``rule`` (any route), its arguments taken from the world."""
    values = {}
    for argument in rule.arguments:
        if argument in overrides:
            values[argument] = overrides[argument]
            continue
        assert argument in ROUTE_VALUES, (
            f"{rule.rule} has an argument <{argument}> the security tests can't fill: add it to "
            "ROUTE_VALUES in tests/security/conftest.py"
        )
        values[argument] = ROUTE_VALUES[argument](world)
    _, path = rule.build(values, append_unknown=False)
    return path


def html_rules(app: Flask) -> list[Rule]:
    """Every route of the HTML app (not the JSON API, not static files)."""
    return sorted(
        (r for r in app.url_map.iter_rules()
         if not r.rule.startswith(API_PREFIX) and r.endpoint != "static"),
        key=lambda r: r.rule,
    )  # fmt: skip


def unsafe_routes(app: Flask, *, api: bool | None = False) -> list[tuple[Rule, str]]:
    """(rule, method) for each unsafe method of each route: HTML only, API only (api=True), or
    both (api=None)."""
    found = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        is_api = rule.rule.startswith(API_PREFIX)
        if rule.endpoint == "static" or (api is not None and is_api != api):
            continue
        found += [(rule, method) for method in sorted((rule.methods or set()) & UNSAFE_METHODS)]
    return found


# --- HTML forms -----------------------------------------------------------------------------


@dataclass
class Form:
    """A form as a browser sees it: where it goes, and the value each field would send."""

    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)
    text_fields: list[str] = field(default_factory=list)  # what a person types into
    file_fields: list[str] = field(default_factory=list)
    choices: dict[str, list[str]] = field(default_factory=dict)


# Inputs an attacker fills (hidden ones too: a browser is not needed to change them).
TEXT_TYPES = {"text", "search", "email", "url", "tel", "password", "number", "date", "hidden"}


class FormReader(HTMLParser):
    """Collects the page's forms (fields as a browser would submit them, untouched)."""

    def __init__(self, page_url: str) -> None:
        super().__init__(convert_charrefs=True)
        self.page_url = page_url
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._textarea: str | None = None
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            action = a.get("action") or self.page_url
            self._form = Form(action=action, method=(a.get("method") or "get").upper())
            self.forms.append(self._form)
            return
        form, name = self._form, a.get("name")
        if form is None or not name:
            return
        if tag == "input":
            kind = (a.get("type") or "text").lower()
            if kind in ("submit", "button", "image", "reset"):
                return
            if kind == "file":
                form.file_fields.append(name)
            elif kind in ("checkbox", "radio"):
                form.choices.setdefault(name, []).append(a.get("value") or "on")
                if "checked" in a or (name not in form.fields and kind == "radio"):
                    form.fields[name] = a.get("value") or "on"
            else:
                form.fields.setdefault(name, a.get("value") or "")
                if kind in TEXT_TYPES and not name.endswith("csrf_token"):
                    form.text_fields.append(name)
        elif tag == "textarea":
            self._textarea = name
            form.fields[name] = ""
            form.text_fields.append(name)
        elif tag == "select":
            self._select = name
            form.choices[name] = []
        elif tag == "option" and self._select:
            value = a.get("value", "")
            form.choices[self._select].append(value)
            if self._select not in form.fields or "selected" in a:
                form.fields[self._select] = value

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None

    def handle_data(self, data: str) -> None:
        if self._form is not None and self._textarea:
            self._form.fields[self._textarea] += data


def forms_on(response: TestResponse, page_url: str) -> list[Form]:
    """The forms of a page (its action defaults to the page's own URL)."""
    reader = FormReader(page_url)
    reader.feed(response.get_data(as_text=True))
    return reader.forms


# --- the database, before and after ------------------------------------------------------------


def fingerprint() -> dict[str, str]:
    """Row count and a digest of the contents of every table: equal before and after means nothing
    in PostgreSQL changed (and every table still exists)."""
    result = {}
    for table in db.metadata.sorted_tables:
        count, digest = db.session.execute(
            sa.text(
                f"SELECT count(*), md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) FROM \"{table.name}\" t"
            )
        ).one()
        result[table.name] = f"{count}:{digest}"
    return result


def changed_tables(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(
        name for name in before.keys() | after.keys() if before.get(name) != after.get(name)
    )


@pytest.fixture
def sql_log(app: Flask) -> Iterator[list[str]]:
    """Every SQL statement's text the app sends while the test runs (parameters not included)."""
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def digest_of(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


CSRF_REFUSED = re.compile(r"Form expired|came from elsewhere")
