"""SQL injection and XSS payloads in every query parameter, path argument and form field of the
HTML app, reflected and stored: no 5xx, markup never comes back live, no payload ever reaches SQL
text, and the database keeps every table and every account.

Nothing is listed by hand: query parameters are the ones each view actually reads (recorded while
it runs), path arguments come from ``app.url_map``, and forms are read from the pages themselves.
A new route, parameter or form field is attacked without touching this file.
"""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
import sqlalchemy as sa
from flask import Request
from markupsafe import escape
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.routing import PathConverter, Rule, UnicodeConverter

from bellyfed.accounts.models import User
from bellyfed.extensions import db
from tests.security.conftest import (
    COUNTS,
    PAYLOADS,
    SQL_PAYLOADS,
    XSS_PAYLOADS,
    Form,
    Payload,
    World,
    forms_on,
    html_rules,
    route_url,
    unescaped,
)


class RecordingArgs(ImmutableMultiDict):
    """``request.args`` that notes every name a view looks up."""

    seen: set[str] = set()

    def get(self, key: str, default: Any = None, type: Any = None) -> Any:
        RecordingArgs.seen.add(key)
        return super().get(key, default, type)

    def __getitem__(self, key: str) -> Any:
        RecordingArgs.seen.add(key)
        return super().__getitem__(key)

    def getlist(self, key: str, type: Any = None) -> list[Any]:
        RecordingArgs.seen.add(key)
        return super().getlist(key, type)

    def __contains__(self, key: object) -> bool:
        RecordingArgs.seen.add(str(key))
        return super().__contains__(key)


def _get_rules(app) -> list[Rule]:
    return [r for r in html_rules(app) if "GET" in (r.methods or ())]


def _check(response, payload: Payload, where: str, problems: list[str]) -> None:
    if response.status_code >= 500:
        problems.append(f"{where}: {response.status_code}")
    elif response.mimetype == "text/html" and unescaped(response.get_data(as_text=True), payload):
        problems.append(f"{where}: payload {payload.text!r} came back unescaped")


def _no_payload_in_sql(statements: list[str]) -> list[str]:
    markers = [p.text for p in PAYLOADS] + ["bfx", "bfq"]
    return [s[:200] for s in statements if any(m in s for m in markers)]


def _accounts_intact(world: World) -> None:
    tables = set(sa.inspect(db.session.connection()).get_table_names())
    assert {t.name for t in db.metadata.sorted_tables} <= tables, "a table disappeared"
    for user in (world.alice, world.bob, world.olga):
        row = db.session.execute(
            sa.select(User.username, User.password_hash, User.role).where(User.id == user.id)
        ).one()
        assert row == (user.username, user.password_hash, user.role)


def test_payloads_in_every_query_parameter_and_path_argument(
    app, world, new_browser, monkeypatch, sql_log
):
    monkeypatch.setattr(Request, "parameter_storage_class", RecordingArgs)
    olga = new_browser(world.olga)  # an operator sees every page there is
    problems: list[str] = []
    params_attacked = 0
    for rule in _get_rules(app):
        url = route_url(rule, world)
        RecordingArgs.seen = set()
        probe = olga.get(url)
        assert probe.status_code < 500, f"GET {url}: {probe.status_code}"
        params_attacked += len(RecordingArgs.seen)
        for name in sorted(RecordingArgs.seen):
            for payload in PAYLOADS:
                target = f"{url}?{urlencode({name: payload.text})}"
                _check(olga.get(target), payload, f"GET {target}", problems)
                COUNTS["reflected: query parameter payloads"] += 1
        # Parameters no view reads still reach pages that echo their own URL (forms' ``next``):
        # each payload in one of them, all in one request (none can make the view refuse early).
        target = f"{url}?{urlencode({f'bf_unknown{i}': p.text for i, p in enumerate(PAYLOADS)})}"
        response = olga.get(target)
        for payload in PAYLOADS:
            _check(response, payload, f"GET {target}", problems)
            COUNTS["reflected: query parameter payloads"] += 1
        for argument in rule.arguments:
            if not isinstance(rule._converters[argument], UnicodeConverter | PathConverter):
                continue  # <int:...>: a payload is a 404 from routing, never reaches the view
            for payload in PAYLOADS:
                target = route_url(rule, world, **{argument: payload.text})
                _check(olga.get(target), payload, f"GET {target}", problems)
                COUNTS["reflected: path argument payloads"] += 1
    assert not problems, "\n".join(problems[:20])
    assert params_attacked >= 15  # the recorder really saw the views' parameters
    assert not _no_payload_in_sql(sql_log), _no_payload_in_sql(sql_log)[:5]
    _accounts_intact(world)


def _form_pages(app, world: World) -> list[tuple[str, str]]:
    """(who, url) of every GET page, for Alice, for Olga (admin pages) and for a visitor."""
    pages = []
    for rule in _get_rules(app):
        url = route_url(rule, world)
        who = "olga" if url.startswith("/admin") else "alice"
        pages.append((who, url))
        if rule.endpoint.startswith("accounts.") and url.startswith("/auth"):
            pages.append(("visitor", url))
    return pages


def _submission(form: Form, field: str, value: str) -> dict[str, Any]:
    data: dict[str, Any] = dict(form.fields)
    data[field] = value
    for name in form.file_fields:
        data[name] = (io.BytesIO(b""), "")
    return data


def test_payloads_in_every_form_field_stored_and_reflected(app, world, new_browser, sql_log):
    browsers = {"alice": new_browser(world.alice), "olga": new_browser(world.olga)}
    problems: list[str] = []
    seen_forms: set[tuple[str, str, tuple[str, ...]]] = set()
    attacked_fields: set[tuple[str, str]] = set()
    for who, page_url in _form_pages(app, world):
        client = browsers.get(who) or new_browser(None)
        page = client.get(page_url)
        if page.status_code != 200 or page.mimetype != "text/html":
            continue
        for form in forms_on(page, page_url):
            action = urlsplit(form.action).path
            key = (who, action, tuple(sorted(form.text_fields)))
            if form.method != "POST" or not form.text_fields or key in seen_forms:
                continue
            seen_forms.add(key)
            for name in form.text_fields:
                attacked_fields.add((action, name))
                for payload in PAYLOADS:
                    if who == "visitor":  # a sign-up may succeed: each try in a new browser
                        client = new_browser(None)
                        form = next(
                            f for f in forms_on(client.get(page_url), page_url)
                            if urlsplit(f.action).path == action
                        )  # fmt: skip
                    response = client.post(
                        form.action, data=_submission(form, name, payload.text),
                        follow_redirects=True,
                    )  # fmt: skip
                    _check(response, payload, f"{who} POST {action} [{name}]", problems)
                    COUNTS["stored/reflected: form field payloads"] += 1
    # Stored: every page, as each of them, shows what was saved escaped.
    shown_escaped = set()
    for who, page_url in _form_pages(app, world):
        response = (browsers.get(who) or new_browser(None)).get(page_url)
        body = response.get_data(as_text=True)
        for payload in PAYLOADS:
            _check(response, payload, f"stored, {who} GET {page_url}", problems)
            if str(escape(payload.text)) in body:
                shown_escaped.add(payload.text)
        COUNTS["stored: pages re-read afterwards, each checked for every payload"] += 1
    restaurant = browsers["alice"].get(f"/restaurants/{world.restaurant.slug}?reviews=newest")
    for payload in XSS_PAYLOADS:
        _check(restaurant, payload, "stored, restaurant page", problems)
    assert not problems, "\n".join(problems[:20])
    # The attack reached the forms that store text, and what they stored is shown escaped.
    actions = {action for action, _ in attacked_fields}
    for expected in ("/auth/register", "/auth/login", "/account", "/account/tokens/new",
                     f"/restaurants/{world.restaurant.slug}/reviews/new",
                     f"/reviews/{world.review.id}/comments", f"/dishes/{world.dish.id}/ranking",
                     "/admin/flags/new"):  # fmt: skip
        assert expected in actions, f"no form found posting to {expected}"
    assert len(attacked_fields) >= 25
    assert {p.text for p in XSS_PAYLOADS} <= shown_escaped, (
        "some payloads were never shown back at all: the stored check proved nothing for them",
        {p.text for p in XSS_PAYLOADS} - shown_escaped,
    )
    assert not _no_payload_in_sql(sql_log), _no_payload_in_sql(sql_log)[:5]
    _accounts_intact(world)


@pytest.mark.parametrize("payload", SQL_PAYLOADS, ids=lambda p: p.text[:12])
def test_sql_payloads_in_search_change_no_answer_and_leak_nothing(new_browser, world, payload):
    """A payload that would widen a WHERE clause finds no more than a nonsense word does."""
    client = new_browser(None)
    baseline = client.get(f"/search?{urlencode({'q': 'zzqxnonsense'})}")
    attacked = client.get(f"/search?{urlencode({'q': payload.text})}")
    COUNTS["reflected: search result comparisons"] += 1
    assert attacked.status_code == baseline.status_code == 200
    assert world.restaurant.name not in attacked.get_data(as_text=True)
    assert "$argon2id$" not in attacked.get_data(as_text=True)
