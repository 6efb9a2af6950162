"""The live dashboard: operators only, numbers from the pipeline, polls itself, survives outages."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bellyfed.accounts.models import User
from bellyfed.analytics.flush import flush
from tests.factories import CityFactory, RestaurantFactory, UserFactory
from tests.helpers import keep_sessions_up
from tests.web import log_in, text

BROWSER = {"User-Agent": "Mozilla/5.0 dashboard-test"}


@pytest.fixture
def operator(browser, db_session):
    user = UserFactory(role="admin")
    log_in(browser, user.username)
    return user


def test_only_operators_see_it(browser, analytics, db_session):
    assert browser.get("/admin/dashboard").status_code == 302  # to the login page
    log_in(browser, UserFactory().username)
    refused = browser.get("/admin/dashboard")
    assert refused.status_code == 403
    assert "for Bellyfed operators" in text(refused)


def test_it_shows_what_the_pipeline_counted(browser, operator, analytics, db_session):
    CityFactory(slug="penang")
    busy, quiet = RestaurantFactory(name="Busy Stall"), RestaurantFactory(name="Quiet Stall")
    for _ in range(3):
        browser.get(f"/restaurants/{busy.slug}", headers=BROWSER)
    browser.get(f"/restaurants/{quiet.slug}", headers=BROWSER)
    browser.get(f"/go/{busy.id}/directions", headers=BROWSER)
    browser.get("/search?q=Laksa&city=penang&open_now=1&all=1", headers=BROWSER)
    flush(analytics)
    page = text(browser.get("/admin/dashboard", headers=BROWSER))
    assert page.index("Busy Stall") < page.index("Quiet Stall")
    assert "Directions: <strong>1</strong>" in page
    assert "“laksa city=penang open-now”" in page  # the normalized text and filters
    assert "Logins: <strong>1</strong>" in page  # the operator's own login
    assert "Flush lag:" in page
    assert 'hx-trigger="every 5s"' in page


def test_the_poll_gets_just_the_panel_uncached(browser, operator, analytics):
    response = browser.get("/admin/dashboard", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "<html" not in text(response)
    assert 'id="dashboard"' in text(response)
    assert response.headers["Cache-Control"] == "no-store"


def test_dynamodb_down_still_renders_with_a_notice(browser, operator, analytics, app, monkeypatch):
    keep_sessions_up(app, monkeypatch)  # else the operator is signed out: tests/accounts covers it
    monkeypatch.setitem(app.config, "AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:1")
    app.extensions.pop("dynamodb", None)
    try:
        response = browser.get("/admin/dashboard")
    finally:
        monkeypatch.undo()
        app.extensions.pop("dynamodb", None)
    assert response.status_code == 200
    assert "DynamoDB is unreachable" in text(response)


def test_make_admin_command(app, db_session):
    user = UserFactory(email="Ops@Example.com")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "make-admin", "ops@example.com"])
    assert result.exit_code == 0, result.output
    assert "is now an operator" in result.output
    assert db_session.scalar(select(User.role).where(User.id == user.id)) == "admin"
    missing = runner.invoke(args=["users", "make-admin", "nobody@example.com"])
    assert missing.exit_code == 1
    assert "No account with the email" in missing.output


def test_api_calls_are_shown_by_endpoint_token_and_error(
    browser, operator, analytics, app, db_session
):
    from bellyfed.accounts import tokens
    from tests.web import BrowserClient

    owner = UserFactory(username="scripter")
    db_session.flush()
    with app.app_context():
        secret, _ = tokens.create(owner, "nightly export", 30)
    api = BrowserClient(app, app.response_class, use_cookies=False)
    script = {"User-Agent": "curl/8.5.0", "Authorization": f"Bearer {secret}"}
    for _ in range(3):
        api.get("/api/v1/restaurants", headers=script)
    api.get("/api/v1/restaurants/nowhere", headers={"User-Agent": "curl/8.5.0"})
    flush(analytics)
    page = text(browser.get("/admin/dashboard", headers=BROWSER))
    assert "<strong>4</strong> in the last hour" in page  # scripts count on the API
    assert '<code>restaurants.listing</code> <span class="muted">3</span>' in page
    assert f"nightly export ({secret[:7]}…, @scripter)" in page
    assert "<code>restaurants.detail:404</code>" in page
