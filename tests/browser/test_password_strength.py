"""A strength meter under every new password (ASVS 2.1.8): it follows what is typed on sign-up,
reset and change-password, only advises (the form posts whatever it says), fetches zxcvbn only
where there is a new password, and breaks no CSP rule (the page fixture also fails on any
console error)."""

from __future__ import annotations

import hashlib
import itertools
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
    # The sentence is the field's description, after the hint it already had (ASVS 2.1.8).
    expect(page.locator("#password")).to_have_attribute(
        "aria-describedby", "password-hint password-strength"
    )
    expect(page.locator("#password-strength-status")).to_have_attribute("aria-live", "polite")
    expect(sentence).not_to_have_attribute("aria-live", re.compile(".*"))
    retype(page, "short one")
    expect(meter).to_have_attribute("data-strength", "short")
    expect(sentence).to_have_text("Too short: 12 characters at least (9 so far).")
    expect(page.locator("#password")).to_have_accessible_description(
        "At least 12 characters; a short phrase works well. "
        "Too short: 12 characters at least (9 so far)."
    )
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


WATCH_THE_MONOLOGUE = """() => {
  window.shown = [];
  window.spoken = [];
  const watch = (id, into) => {
    const node = document.getElementById(id);
    new MutationObserver(() => into.push(node.textContent))
      .observe(node, { childList: true, subtree: true, characterData: true });
  };
  watch("password-strength", window.shown);
  watch("password-strength-status", window.spoken);
}"""


def test_the_live_region_speaks_only_when_the_verdict_changes(
    page: Page, live_server: LiveServer
) -> None:
    """A slow typist sees the sentence follow every pause but hears it once per verdict."""
    open_page(page, f"{live_server.url}/auth/register")
    page.locator("#password").focus()
    page.wait_for_function("() => typeof window.zxcvbn === 'function'")
    page.evaluate(WATCH_THE_MONOLOGUE)
    page.locator("#password").press_sequentially(PASSPHRASE, delay=250)  # past the 150 ms settle
    expect(page.locator(".password-strength")).to_have_attribute("data-strength", "strong")
    page.wait_for_timeout(300)
    shown = page.evaluate("window.shown")
    spoken = [text for text in page.evaluate("window.spoken") if text]
    assert len({text for text in shown if text.startswith("Too short")}) >= 6, shown
    assert len([text for text in spoken if text.startswith("Too short")]) == 1, spoken
    assert spoken[0].startswith("Too short: 12 characters at least ("), spoken
    verdicts = [text.split(":")[0].rstrip(".") for text in spoken]
    assert all(before != after for before, after in itertools.pairwise(verdicts)), spoken
    assert spoken[-1] == "Strong."
    assert len(spoken) < len(shown)
    assert_no_csp_violation(page)


COUNT_ZXCVBN_CALLS = """
window.zxcvbnCalls = 0;
Object.defineProperty(window, "zxcvbn", {
  configurable: true,
  get() { return window.realZxcvbn; },
  set(real) {
    window.realZxcvbn = (...args) => { window.zxcvbnCalls += 1; return real(...args); };
  },
});
"""
ZXCVBN_URL = re.compile(r"/static/vendor/zxcvbn/zxcvbn\.js$")


def wait_for_request(page: Page, held: list, count: int) -> None:
    for _ in range(250):
        if len(held) >= count:
            return
        page.wait_for_timeout(20)
    raise AssertionError(f"zxcvbn was fetched {len(held)} times, expected {count}")


def test_keys_typed_while_zxcvbn_loads_give_one_update_when_it_arrives(
    page: Page, live_server: LiveServer
) -> None:
    held: list = []
    # A slow link: zxcvbn arrives only when the test lets it.
    page.route(ZXCVBN_URL, lambda route: held.append(route))
    page.add_init_script(COUNT_ZXCVBN_CALLS)
    open_page(page, f"{live_server.url}/auth/register")
    page.fill("#password", "tamarind noodles")
    page.locator("#password").press_sequentially(" at dawn", delay=200)  # 8 settled updates
    wait_for_request(page, held, 1)
    expect(page.locator(".password-strength")).to_have_attribute("data-strength", "")
    held[0].continue_()
    expect(page.locator(".password-strength")).to_have_attribute("data-strength", "strong")
    page.wait_for_timeout(300)
    assert page.evaluate("window.zxcvbnCalls") == 1
    assert len(held) == 1
    assert_no_csp_violation(page)


def test_after_zxcvbn_fails_to_load_only_the_next_keystroke_tries_again(
    chromium: Browser, live_server: LiveServer
) -> None:
    context = chromium.new_context()  # not the page fixture: the failed fetch is a console error
    page = context.new_page()
    held: list = []
    page.route(ZXCVBN_URL, lambda route: held.append(route))
    page.add_init_script(COUNT_ZXCVBN_CALLS)
    try:
        page.goto(f"{live_server.url}/auth/register")
        page.fill("#password", "tamarind noodles")
        page.locator("#password").press_sequentially(" at", delay=200)
        wait_for_request(page, held, 1)
        held[0].abort()
        page.wait_for_function("() => !document.querySelector('script[src*=zxcvbn]')")
        page.locator("#password").press_sequentially(" dawn", delay=200)
        wait_for_request(page, held, 2)
        held[1].continue_()
        expect(page.locator(".password-strength")).to_have_attribute("data-strength", "strong")
        page.wait_for_timeout(300)
        # Only the update that asked again ran: none left waiting from before the error.
        assert page.evaluate("window.zxcvbnCalls") == 1
        assert len(held) == 2
    finally:
        context.close()


RECORD_PASTES = """
window.pastes = [];
document.addEventListener("paste", (event) =>
  window.pastes.push([event.target.id, event.defaultPrevented]));
"""


def paste(page: Page, field: str, text: str) -> None:
    """Put ``text`` on the clipboard and paste it over what ``field`` holds, as a diner would."""
    page.evaluate("(text) => navigator.clipboard.writeText(text)", text)
    page.locator(field).focus()
    page.keyboard.press("ControlOrMeta+A")
    page.keyboard.press("ControlOrMeta+V")


def test_pasting_a_new_password_works_and_the_meter_follows(
    page: Page, live_server: LiveServer
) -> None:
    """ASVS 2.1.11: a real paste (the clipboard, Ctrl+V) goes in, is assessed, and posts."""
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page.add_init_script(RECORD_PASTES)
    open_page(page, f"{live_server.url}/auth/register")
    username = new_username()
    page.fill("#username", username)
    page.fill("#email", f"{username}@example.com")
    page.fill("#display_name", "Paste Diner")
    paste(page, "#password", "pasted too")
    expect(page.locator("#password")).to_have_value("pasted too")
    expect(page.locator("#password-strength")).to_have_text(
        "Too short: 12 characters at least (10 so far)."
    )
    paste(page, "#password", PASSPHRASE)
    expect(page.locator("#password")).to_have_value(PASSPHRASE)
    expect(page.locator(".password-strength")).to_have_attribute("data-strength", "strong")
    paste(page, "#confirm", PASSPHRASE)
    expect(page.locator("#confirm")).to_have_value(PASSPHRASE)
    assert page.evaluate("window.pastes") == [
        ["password", False],
        ["password", False],
        ["confirm", False],
    ]
    assert_no_csp_violation(page)
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


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
