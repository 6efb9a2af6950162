"""Password fields can be shown and hidden again (ASVS 2.1.12), with no script error or CSP
violation (the page fixture fails on either)."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveServer, shot


def test_a_password_can_be_shown_and_hidden_again(page: Page, live_server: LiveServer) -> None:
    page.goto(f"{live_server.url}/auth/login")
    password = page.locator("#password")
    password.fill("a long phrase of mine")
    toggle = page.get_by_role("button", name="Show password")
    expect(password).to_have_attribute("type", "password")
    toggle.click()
    expect(password).to_have_attribute("type", "text")
    expect(password).to_have_value("a long phrase of mine")
    hide = page.get_by_role("button", name="Hide password")
    expect(hide).to_have_attribute("aria-pressed", "true")
    shot(page, "login-password-shown")
    hide.click()
    expect(password).to_have_attribute("type", "password")


def test_every_password_field_of_sign_up_gets_its_own_toggle(
    page: Page, live_server: LiveServer
) -> None:
    page.goto(f"{live_server.url}/auth/register")
    fields = page.locator('input[type="password"]')
    expect(fields).to_have_count(2)
    expect(page.get_by_role("button", name="Show password")).to_have_count(2)
    page.get_by_role("button", name="Show password").first.click()
    expect(page.locator("#password")).to_have_attribute("type", "text")
    expect(page.locator("#confirm")).to_have_attribute("type", "password")  # only its own
