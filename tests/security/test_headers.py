"""Security headers on every response: each GET route of ``app.url_map`` (pages, API, static
files, photos, health checks), error pages of every kind, redirects; HSTS and secure cookies in
production only."""

from __future__ import annotations

import io

import pytest
from flask import Flask

from bellyfed.core.web import CONTENT_SECURITY_POLICY
from tests.conftest import make_test_app
from tests.security.conftest import COUNTS, route_url


def policies(response) -> list[dict[str, list[str]]]:
    """Each Content-Security-Policy sent, as {directive: values} (browsers enforce all)."""
    parsed = []
    for header in response.headers.getlist("Content-Security-Policy"):
        directives = {}
        for part in header.split(";"):
            words = part.split()
            if words:
                directives[words[0]] = words[1:]
        parsed.append(directives)
    return parsed


def check_headers(response, where: str) -> list[str]:
    problems = []
    sent = policies(response)
    if not sent:
        return [f"{where}: no Content-Security-Policy"]
    script_rules = [p.get("script-src", p.get("default-src")) for p in sent]
    if not any(script_rules):
        problems.append(f"{where}: no policy restricts scripts")
    for rule in filter(None, script_rules):
        if {"'unsafe-inline'", "'unsafe-eval'", "*", "data:", "http:", "https:"} & set(rule):
            problems.append(f"{where}: scripts allowed from {rule}")
    if ["'none'"] not in [p.get("frame-ancestors") for p in sent]:
        problems.append(f"{where}: no frame-ancestors 'none' in {sent}")
    if ["'none'"] not in [p.get("object-src", p.get("default-src")) for p in sent]:
        problems.append(f"{where}: plugins (object-src) not refused in {sent}")
    expected = {
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Cross-Origin-Opener-Policy": "same-origin",
    }
    for name, value in expected.items():
        if response.headers.get(name) != value:
            problems.append(f"{where}: {name}={response.headers.get(name)!r}")
    if response.headers.get("Referrer-Policy") not in ("strict-origin-when-cross-origin",
                                                       "no-referrer"):  # fmt: skip
        problems.append(f"{where}: Referrer-Policy={response.headers.get('Referrer-Policy')!r}")
    if "Permissions-Policy" not in response.headers:
        problems.append(f"{where}: no Permissions-Policy")
    if "Strict-Transport-Security" in response.headers:
        problems.append(f"{where}: HSTS outside production")
    COUNTS["headers: responses checked"] += 1
    return problems


def test_the_site_policy_allows_no_inline_script_anywhere():
    assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY
    assert "'unsafe-eval'" not in CONTENT_SECURITY_POLICY


def test_every_get_route_sends_the_headers(app, world, new_browser):
    """Signed in (so signed-in pages render) and as a visitor (so they redirect)."""
    problems = []
    rules = [r for r in app.url_map.iter_rules() if "GET" in (r.methods or ())]
    assert len(rules) > 30
    for client in (new_browser(world.olga), new_browser(None)):
        for rule in rules:
            url = route_url(rule, world)
            response = client.get(url)
            problems += check_headers(response, f"GET {url} ({response.status_code})")
    assert not problems, "\n".join(problems)


def test_error_responses_send_the_headers(app, world, new_browser, monkeypatch):
    client = new_browser(world.alice)
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1024)
    errors = {
        "404 page": client.get("/no/such/page"),
        "404 object": client.get("/reviews/999999999/edit"),
        "403": client.get("/admin/dashboard"),
        "405": client.put("/auth/login"),
        "400 csrf": client.post("/auth/logout"),
        "400 nul": client.get("/search?q=%00"),
        "413": client.post("/account", data={"f": (io.BytesIO(b"x" * 4096), "f.jpg")}),
        "401 api": client.put(f"/api/v1/dishes/{world.dish.id}/vote", json={"value": 1}),
        "404 api": client.get("/api/v1/restaurants/no-such-place"),
        "404 photo": client.get("/photos/999999999"),
    }
    problems = []
    for label, response in errors.items():
        assert response.status_code >= 400, (label, response.status_code)
        problems += check_headers(response, label)
    assert not problems, "\n".join(problems)


def test_api_answers_are_attachments_and_pages_are_not(world, new_browser):
    """ASVS 14.4.2: a browser sent to an API URL saves the JSON instead of rendering it."""
    client = new_browser(None)
    for url in ("/api/v1/restaurants?q=laksa", "/api/v1/openapi.json",
                "/api/v1/restaurants/no-such-place"):  # fmt: skip
        response = client.get(url)
        assert response.headers["Content-Disposition"] == 'attachment; filename="api.json"', url
    for url in ("/api/v1/docs", "/search?q=laksa"):
        assert "Content-Disposition" not in client.get(url).headers, url


@pytest.fixture
def production_app(database_url: str, aws_endpoint: str) -> Flask:
    return make_test_app(database_url, aws_endpoint, BELLYFED_ENV="production",
                         SESSION_COOKIE_SECURE=True)  # fmt: skip


def test_production_adds_hsts_and_secure_host_only_cookies(
    production_app, db_session, redis_client
):
    from tests.web import BrowserClient

    client = BrowserClient(production_app, production_app.response_class, use_cookies=True)
    for url in ("/auth/login", "/healthz", "/no/such/page", "/static/css/bellyfed.css"):
        response = client.get(url, base_url="https://localhost")
        hsts = response.headers.get("Strict-Transport-Security", "")
        assert hsts.startswith("max-age=")
        assert int(hsts.split("=")[1].split(";")[0]) >= 31536000
        assert "includeSubDomains" in hsts
        COUNTS["headers: responses checked"] += 1
    fresh = BrowserClient(production_app, production_app.response_class, use_cookies=True)
    first = fresh.get("/auth/login", base_url="https://localhost")  # its form token: a session
    session_cookie = next(v for k, v in first.headers.items() if k == "Set-Cookie")
    assert session_cookie.startswith("__Host-session=")
    for flag in ("Secure", "HttpOnly", "Path=/", "SameSite=Lax"):
        assert flag in session_cookie, session_cookie
    assert "Domain=" not in session_cookie


def test_development_cookies_are_http_only_and_same_site(world, new_browser):
    client = new_browser(None)
    first = client.get("/auth/login")
    cookie = next(v for k, v in first.headers.items() if k == "Set-Cookie")
    assert cookie.startswith("session=")
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
