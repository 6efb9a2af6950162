"""A strength meter under every new password (ASVS 2.1.8): it follows what is typed on sign-up,
reset and change-password, only advises (the form posts whatever it says), fetches zxcvbn only
where there is a new password, and breaks no CSP rule (the page fixture also fails on any
console error)."""

from __future__ import annotations

import hashlib
import re
import uuid
from pathlib import Path

from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from bellyfed.accounts.models import User
from bellyfed.dynamo import tokens as storage
from bellyfed.extensions import db
from tests.browser.conftest import LiveServer, shot

STATIC = Path(__file__).resolve().parents[2] / "static"
ZXCVBN = STATIC / "vendor" / "zxcvbn" / "zxcvbn.js"
PASSPHRASE = "tamarind noodles at dawn"
# Recorded by the page before any of its own scripts run.
RECORD_CSP_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation",
  (event) => window.cspViolations.push(event.violatedDirective + " " + event.blockedURI));
"""


def open_page(page: Page, url: str) -> None:
    page.add_init_script(RECORD_CSP_VIOLATIONS)
    response = page.goto(url)
    assert response is not None
    assert response.ok
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy


def assert_no_csp_violation(page: Page) -> None:
    assert page.evaluate("window.cspViolations") == []


def retype(page: Page, text: str) -> None:
    field = page.locator("#password")
    field.clear()
    field.press_sequentially(text)


def expect_meter_follows_typing(page: Page) -> None:
    """Short, common, then a passphrase: the bar and the spoken sentence follow."""
    meter = page.locator(".password-strength")
    sentence = page.locator("#password-strength")
    expect(meter).to_have_count(1)  # the new password only, not its confirmation
    expect(page.locator(".field", has=page.locator("#password")).locator(meter)).to_have_count(1)
    expect(sentence).to_have_attribute("aria-live", "polite")
    retype(page, "short one")
    expect(meter).to_have_attribute("data-strength", "short")
    expect(sentence).to_have_text("Too short: 12 characters at least (9 so far).")
    retype(page, "password1234")
    expect(meter).to_have_attribute("data-strength", "weak")
    expect(sentence).to_contain_text("Weak: this is a common password")
    retype(page, "iloveyou2024!")  # zxcvbn alone says "fair"; the server's list refuses it
    expect(meter).to_have_attribute("data-strength", "weak")
    retype(page, PASSPHRASE)
    expect(meter).to_have_attribute("data-strength", "strong")
    expect(sentence).to_have_text("Strong.")
    retype(page, "")
    expect(meter).to_have_attribute("data-strength", "")
    expect(sentence).to_have_text("")


def new_username() -> str:
    """Letters only: a username ending in digits would hide "<username>2024" from the check."""
    return "meter_" + "".join(chr(ord("a") + int(digit, 16)) for digit in uuid.uuid4().hex[:10])


def register(page: Page, server: LiveServer) -> str:
    """A new diner, signed in, through the sign-up page; returns the username."""
    username = new_username()
    page.goto(f"{server.url}/auth/register")
    page.fill("#username", username)
    page.fill("#email", f"{username}@example.com")
    page.fill("#display_name", "Meter Diner")
    page.fill("#password", PASSPHRASE)
    page.fill("#confirm", PASSPHRASE)
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    return username


def test_the_meter_follows_typing_on_sign_up_and_never_blocks_it(
    page: Page, live_server: LiveServer
) -> None:
    open_page(page, f"{live_server.url}/auth/register")
    username = new_username()
    page.fill("#username", username)
    page.fill("#email", f"{username}@example.com")
    page.fill("#display_name", "Tamarind Lover")
    expect_meter_follows_typing(page)

    # The diner's own names count as weak, as the server refuses them.
    retype(page, f"{username}2024")
    expect(page.locator("#password-strength")).to_have_text(
        "Weak: don't use your username, email or name."
    )
    # Typed while shown (the Show button), filled by a password manager that only sends "change".
    page.get_by_role("button", name="Show password").first.click()
    expect(page.locator("#password")).to_have_attribute("type", "text")
    retype(page, "tiny")
    expect(page.locator(".password-strength")).to_have_attribute("data-strength", "short")
    page.locator("#password").evaluate(
        "(field, value) => { field.value = value; field.dispatchEvent(new Event('change')); }",
        PASSPHRASE,
    )
    expect(page.locator(".password-strength")).to_have_attribute("data-strength", "strong")
    shot(page, "password-strength-sign-up")
    assert_no_csp_violation(page)

    page.fill("#confirm", PASSPHRASE)
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def test_the_meter_follows_typing_on_a_reset(page: Page, live_server: LiveServer) -> None:
    with live_server.app.app_context():
        user = db.session.scalars(select(User).where(User.is_active).limit(1)).one()
        secret, _ = storage.issue("reset", user.id, 600)
    open_page(page, f"{live_server.url}/auth/reset/{secret}")
    expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    expect_meter_follows_typing(page)
    retype(page, "password1234")
    expect(page.locator(".password-strength")).to_have_attribute("data-strength", "weak")
    shot(page, "password-strength-reset")
    assert_no_csp_violation(page)


def test_the_meter_follows_typing_on_a_change_with_the_diners_names(
    page: Page, live_server: LiveServer
) -> None:
    username = register(page, live_server)
    open_page(page, f"{live_server.url}/account/password")
    expect_meter_follows_typing(page)
    retype(page, f"{username}!!!")
    expect(page.locator("#password-strength")).to_contain_text("don't use your username")
    retype(page, "Meter Diner 1234")
    expect(page.locator("#password-strength")).to_contain_text("don't use your username")
    retype(page, "Summertime2019")
    expect(page.locator(".password-strength")).to_have_attribute("data-strength", "fair")
    expect(page.locator("#password-strength")).to_contain_text("Fair: add another word or two.")
    retype(page, "noodlesoup12")
    expect(page.locator(".password-strength")).to_have_attribute("data-strength", "good")
    expect(page.locator("#password-strength")).to_have_text("Good.")
    retype(page, "Summertime2019")
    expect(page.locator(".password-strength")).to_have_attribute("data-strength", "fair")
    shot(page, "password-strength-change")
    assert_no_csp_violation(page)


def test_zxcvbn_is_fetched_only_once_a_new_password_is_used(
    page: Page, live_server: LiveServer
) -> None:
    fetched: list[str] = []
    page.on("request", lambda request: fetched.append(request.url))
    for path in ("/", "/auth/forgot", "/auth/login"):
        open_page(page, f"{live_server.url}{path}")
        page.wait_for_load_state("networkidle")
    page.fill("#password", "typing on the login page")
    page.wait_for_load_state("networkidle")
    assert not [url for url in fetched if re.search(r"password-strength|zxcvbn", url)]

    open_page(page, f"{live_server.url}/auth/register")
    page.wait_for_load_state("networkidle")
    assert any("password-strength.js" in url for url in fetched)
    assert not any("zxcvbn" in url for url in fetched)  # not before the field is used
    with page.expect_response(re.compile(r"/static/vendor/zxcvbn/zxcvbn\.js$")) as response:
        page.locator("#password").focus()
    assert response.value.ok
    assert_no_csp_violation(page)


def test_without_javascript_sign_up_posts_as_before(
    chromium: Browser, live_server: LiveServer
) -> None:
    context = chromium.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/auth/register")
        expect(page.locator("#password")).to_be_visible()
        expect(page.locator(".password-strength")).to_have_count(0)
        register(page, live_server)
    finally:
        context.close()


def test_when_zxcvbn_cannot_load_the_meter_gives_the_length_advice_only(
    chromium: Browser, live_server: LiveServer
) -> None:
    context = chromium.new_context()  # not the page fixture: the failed fetch is a console error
    page = context.new_page()
    page.route(re.compile(r"/zxcvbn\.js$"), lambda route: route.abort())
    try:
        page.goto(f"{live_server.url}/auth/register")
        retype(page, "short one")
        expect(page.locator(".password-strength")).to_have_attribute("data-strength", "short")
        retype(page, PASSPHRASE)
        expect(page.locator(".password-strength")).to_have_attribute("data-strength", "")
        expect(page.locator("#password-strength")).to_have_text("")
    finally:
        context.close()


def test_the_vendored_zxcvbn_is_the_version_in_the_readme() -> None:
    readme = (STATIC / "vendor" / "README.md").read_text(encoding="utf-8")
    row = re.search(
        r"^\| `zxcvbn/zxcvbn\.js` \| `zxcvbn` \| ([\d.]+) \| `npm install zxcvbn@([\d.]+)`.*"
        r"sha256 `([0-9a-f]{64})`",
        readme,
        re.MULTILINE,
    )
    assert row is not None, "static/vendor/README.md has no zxcvbn row"
    version, installed, sha256 = row.groups()
    assert version == installed == "4.4.2"
    assert hashlib.sha256(ZXCVBN.read_bytes()).hexdigest() == sha256
    assert "Dan Wheeler and Dropbox" in (ZXCVBN.parent / "LICENSE").read_text(encoding="utf-8")
    assert "vendor/zxcvbn/zxcvbn.js" in (STATIC.parent / "templates" / "base.html").read_text()
