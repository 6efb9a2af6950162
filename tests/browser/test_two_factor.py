"""Two-step sign-in in Chromium, as an operator meets it: the dashboard sends them to set it up,
the QR page gives a key an authenticator app takes, the recovery codes are shown once, and the
next log-in asks for a code (ASVS 2.8, 4.3.1). No script is involved, so none may fail (the page
fixture fails on console errors and CSP violations)."""

from __future__ import annotations

import time

import pyotp
from playwright.sync_api import Page, expect
from sqlalchemy import update

from bellyfed.accounts.models import User
from bellyfed.extensions import db
from tests.browser.conftest import LiveServer, shot
from tests.browser.test_password_strength import PASSPHRASE, register


def test_an_operator_sets_up_two_step_sign_in_and_logs_in_with_a_code(
    page: Page, live_server: LiveServer
) -> None:
    username = register(page, live_server)
    with live_server.app.app_context():
        db.session.execute(update(User).where(User.username == username).values(role="admin"))
        db.session.commit()

    page.goto(f"{live_server.url}/admin/dashboard")
    expect(page).to_have_url(f"{live_server.url}/account/two-factor")
    expect(page.get_by_text("Operators keep two-step sign-in on.")).to_be_visible()
    qr = page.get_by_role("img", name="QR code to scan with your authenticator app")
    expect(qr).to_be_visible()
    box = qr.bounding_box()
    assert box is not None
    assert box["width"] >= 150  # big enough for a phone's camera
    key = page.locator("#totp-secret").inner_text().replace(" ", "")
    app = pyotp.TOTP(key)  # what the phone's authenticator app does with the key
    shot(page, "two-factor-setup")

    # (A wrong code's 422 would be a console error here: tests/accounts/test_two_factor.py.)
    page.fill("#code", app.now())
    page.fill("#password", PASSPHRASE)
    page.get_by_role("button", name="Turn on two-step sign-in").click()
    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    expect(page.locator(".recovery-codes li")).to_have_count(10)
    shot(page, "two-factor-recovery-codes")
    page.get_by_role("link", name="I've saved them").click()
    expect(page.get_by_role("link", name="Manage two-step sign-in")).to_be_visible()
    page.goto(f"{live_server.url}/admin/dashboard")
    expect(page).to_have_url(f"{live_server.url}/admin/dashboard")

    page.get_by_role("button", name="Log out").click()
    page.goto(f"{live_server.url}/auth/login?next=/admin/dashboard")
    page.fill("#identifier", username)
    page.fill("#password", PASSPHRASE)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="One more step")).to_be_visible()
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)  # not signed in yet
    shot(page, "two-factor-login")
    # The setup's code is used up: the app's next one (one step of drift is allowed).
    page.fill("#code", app.at(time.time() + app.interval))
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{live_server.url}/admin/dashboard")
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
