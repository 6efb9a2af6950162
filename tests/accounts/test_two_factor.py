"""Two-step sign-in (ASVS 2.7/2.8, 4.3.1): setting it up with an authenticator app, the code after
the password, one-use codes and recovery codes, throttling, operators required to have it, and the
secret encrypted at rest. Real PostgreSQL, Redis and DynamoDB (moto's server)."""

from __future__ import annotations

import html
import re
import time

import pyotp
import pytest
import redis
from click.testing import CliRunner
from sqlalchemy import select

from bellyfed.accounts import throttle, two_factor, two_factor_views
from bellyfed.accounts.models import RecoveryCode, TwoFactor, User
from bellyfed.accounts.passwords import hash_password
from bellyfed.accounts.sessions import end_sessions
from bellyfed.core.mail import Message
from bellyfed.dynamo import sessions as session_storage
from tests.accounts.support import attempt_login, log_out
from tests.factories import TEST_PASSWORD, TEST_TOTP_SECRET, UserFactory
from tests.web import BrowserClient, log_in, post, text, totp_code

SECRET_ON_PAGE = re.compile(r'<code class="totp-secret" id="totp-secret">([A-Z2-7 ]+)</code>')
CODE_ON_PAGE = re.compile(
    r"<li><code>([a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4})</code></li>"
)


@pytest.fixture
def outbox(app, monkeypatch) -> list[Message]:
    monkeypatch.setitem(app.extensions, "outbox", [])
    return app.extensions["outbox"]


def page(response) -> str:
    return html.unescape(text(response))


def new_browser(app) -> BrowserClient:
    return BrowserClient(app, app.response_class, use_cookies=True)


def set_up(client) -> tuple[str, list[str]]:
    """Turn two-step sign-in on for the signed-in user: (the app's secret, recovery codes)."""
    setup = client.get("/account/two-factor")
    secret = SECRET_ON_PAGE.search(text(setup)).group(1).replace(" ", "")
    done = post(client, "/account/two-factor/enable",
                {"code": pyotp.TOTP(secret).now(), "password": TEST_PASSWORD})  # fmt: skip
    assert done.status_code == 200, page(done)[:800]
    return secret, CODE_ON_PAGE.findall(text(done))


def signed_in(client) -> bool:
    return client.get("/account").status_code == 200


def test_set_up_then_every_log_in_takes_a_code(app, client, db_session, redis_client, outbox):
    siti = UserFactory(username="siti")
    assert attempt_login(client, "siti").status_code == 302
    assert "Set up two-step sign-in" in text(client.get("/account"))

    setup = client.get("/account/two-factor")
    assert setup.status_code == 200
    assert setup.headers["Cache-Control"] == "no-store"
    assert '<svg viewBox="' in text(setup)  # the QR code, inline
    assert "<title>QR code to scan with your authenticator app</title>" in text(setup)
    assert 'autocomplete="one-time-code"' in text(setup)
    secret = SECRET_ON_PAGE.search(text(setup)).group(1).replace(" ", "")
    assert len(secret) == 32  # 160 bits
    # The page can be reloaded (the phone was slow): the same secret, until it is confirmed.
    assert (
        SECRET_ON_PAGE.search(text(client.get("/account/two-factor"))).group(1).replace(" ", "")
        == secret
    )

    wrong_code = post(client, "/account/two-factor/enable",
                      {"code": "000000", "password": TEST_PASSWORD})  # fmt: skip
    assert wrong_code.status_code == 422
    assert two_factor_views.BAD_SETUP_CODE in page(wrong_code)
    wrong_password = post(client, "/account/two-factor/enable",
                          {"code": pyotp.TOTP(secret).now(), "password": "not my password"})  # fmt: skip
    assert wrong_password.status_code == 422
    assert two_factor_views.BAD_PASSWORD in page(wrong_password)
    assert db_session.get(TwoFactor, siti.id) is None  # nothing stored by either

    first_code = pyotp.TOTP(secret).now()
    done = post(client, "/account/two-factor/enable",
                {"code": first_code, "password": TEST_PASSWORD})  # fmt: skip
    assert done.status_code == 200
    assert done.headers["Cache-Control"] == "no-store"
    codes = CODE_ON_PAGE.findall(text(done))
    assert len(set(codes)) == 10
    stored = db_session.get(TwoFactor, siti.id)
    assert secret not in stored.secret  # encrypted at rest
    hashes = db_session.scalars(
        select(RecoveryCode.code_hash).where(RecoveryCode.user_id == siti.id)
    )
    assert not {c.replace("-", "") for c in codes} & set(hashes)  # only digests kept
    assert [m.subject for m in outbox] == [two_factor_views.CHANGED_SUBJECT]
    assert "was just turned on" in outbox[0].body
    assert "Manage two-step sign-in" in text(client.get("/account"))

    log_out(client)
    halfway = attempt_login(client, "siti")
    assert halfway.headers["Location"] == "/auth/two-factor"
    assert not signed_in(client)  # the password alone signs nobody in
    step = client.get("/auth/two-factor")
    assert step.status_code == 200
    assert "One more step" in text(step)
    # The code that confirmed the app is used up.
    reused = post(client, "/auth/two-factor", {"code": first_code})
    assert reused.status_code == 422
    assert two_factor_views.BAD_CODE in page(reused)
    assert not signed_in(client)
    # The next step's code (the app one step ahead of the server's clock) is accepted.
    ahead = pyotp.TOTP(secret).at(time.time() + two_factor.STEP_SECONDS)
    done = post(client, "/auth/two-factor", {"code": ahead})
    assert done.status_code == 302
    assert done.headers["Location"] == "/"
    assert signed_in(client)


def test_a_code_works_once_even_from_two_browsers(
    app, client, db_session, redis_client, outbox, caplog
):
    """ASVS 2.8.4/2.8.5: a used code is refused, logged, and its owner told."""
    UserFactory(username="siti", two_factor=True)
    code = totp_code("siti")
    first, second = new_browser(app), new_browser(app)
    for browser in (first, second):
        assert attempt_login(browser, "siti").headers["Location"] == "/auth/two-factor"
    assert post(first, "/auth/two-factor", {"code": code}).status_code == 302
    assert outbox == []
    assert post(second, "/auth/two-factor", {"code": code}).status_code == 422
    assert signed_in(first)
    assert not signed_in(second)
    assert "A used two-step code was offered again" in caplog.text
    assert code not in caplog.text
    assert [m.subject for m in outbox] == [two_factor_views.REUSED_SUBJECT]
    assert "that code had been used already" in outbox[0].body


def test_a_recovery_code_logs_in_once(app, client, db_session, redis_client, outbox):
    assert attempt_login(client, UserFactory(username="siti").username).status_code == 302
    _, codes = set_up(client)
    log_out(client)
    attempt_login(client, "siti")
    typed = codes[3].upper().replace("-", " ")  # read off paper: case and spacing don't matter
    done = post(client, "/auth/two-factor", {"code": typed})
    assert done.status_code == 302
    assert "That recovery code is used up: 9 left" in page(client.get("/"))
    assert outbox[-1].subject == two_factor_views.RECOVERY_USED_SUBJECT  # the phone may be lost
    assert "You have 9 left" in outbox[-1].body
    assert codes[3] not in outbox[-1].body
    log_out(client)
    attempt_login(client, "siti")
    assert post(client, "/auth/two-factor", {"code": codes[3]}).status_code == 422
    assert not signed_in(client)


def test_wrong_codes_end_the_half_way_log_in_and_lock_the_account(
    app, client, db_session, redis_client, outbox
):
    """Five wrong codes end a half-way log-in (the third tells the owner); the account's five a
    quarter hour are then used up, so the right code after a new password is refused too."""
    UserFactory(username="siti", two_factor=True)
    assert attempt_login(client, "siti").headers["Location"] == "/auth/two-factor"
    for n, guess in enumerate(("123456", "654321", "111111", "999999"), start=1):
        assert post(client, "/auth/two-factor", {"code": guess}).status_code == 422
        subjects = [m.subject for m in outbox]
        assert subjects == ([two_factor_views.GUESSING_SUBJECT] if n >= 3 else []), n
    assert "several wrong codes" in outbox[0].body
    ended = post(client, "/auth/two-factor", {"code": "000000"})
    assert ended.headers["Location"] == "/auth/login"
    assert two_factor_views.TOO_MANY_WRONG in page(client.get("/auth/login"))
    assert attempt_login(client, "siti").headers["Location"] == "/auth/two-factor"
    refused = post(client, "/auth/two-factor", {"code": totp_code("siti")})
    assert refused.status_code == 429
    assert "Too many failed attempts for this account" in page(refused)
    assert int(refused.headers["Retry-After"]) > 0
    assert not signed_in(client)


def test_a_right_password_never_clears_wrong_codes(app, client, db_session, redis_client):
    """The turn-off form asks for the password, then a code: its right password must not reset
    the count of wrong codes (else guessing codes there would never lock)."""
    UserFactory(username="siti", two_factor=True)
    log_in(client, "siti")
    for guess in ("123456", "654321", "111111", "999999", "000000"):
        wrong = post(client, "/account/two-factor/disable",
                     {"password": TEST_PASSWORD, "code": guess})  # fmt: skip
        assert wrong.status_code == 422
    refused = post(client, "/account/two-factor/disable",
                   {"password": TEST_PASSWORD, "code": totp_code("siti")})  # fmt: skip
    assert refused.status_code == 429
    user = db_session.scalar(select(User).where(User.username == "siti"))
    assert two_factor.is_enabled(user)


def test_with_redis_down_codes_are_refused_not_waved_through(
    app, client, db_session, redis_client, monkeypatch
):
    UserFactory(username="siti", two_factor=True)
    assert attempt_login(client, "siti").headers["Location"] == "/auth/two-factor"

    def down() -> None:
        raise redis.ConnectionError("Redis is down")

    monkeypatch.setattr(throttle, "get_redis", down)
    refused = post(client, "/auth/two-factor", {"code": totp_code("siti")})
    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "60"
    assert "Checking codes is briefly unavailable" in page(refused)
    assert not signed_in(client)
    monkeypatch.undo()
    assert post(client, "/auth/two-factor", {"code": totp_code("siti")}).status_code == 302
    assert signed_in(client)


def test_bad_input_is_explained_and_signs_nobody_in(app, client, db_session, redis_client):
    UserFactory(username="siti", two_factor=True)
    attempt_login(client, "siti")
    for code, message in [
        ("", "Type the 6-digit code from your authenticator app."),
        ("x" * 65, "That's longer than any code we give out."),
        ("12345", two_factor_views.BAD_CODE),
        ("abcdef", two_factor_views.BAD_CODE),
        ("١٢٣٤٥٦", two_factor_views.BAD_CODE),  # Arabic-Indic digits: not our digits
        ("' OR 1=1 --", two_factor_views.BAD_CODE),
    ]:
        response = post(client, "/auth/two-factor", {"code": code})
        assert response.status_code == 422, code
        assert message in page(response), code
    assert not signed_in(client)


def test_the_second_step_expires(app, client, db_session, redis_client, monkeypatch):
    UserFactory(username="siti", two_factor=True)
    attempt_login(client, "siti")
    later = time.time() + two_factor.LOGIN_PENDING_SECONDS + 1
    monkeypatch.setattr(two_factor_views.time, "time", lambda: later)
    response = post(client, "/auth/two-factor", {"code": totp_code("siti")})
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/login"
    assert two_factor_views.EXPIRED in page(client.get("/auth/login"))
    assert not signed_in(client)


def test_the_second_step_without_a_first_goes_back_to_log_in(client, db_session):
    response = client.get("/auth/two-factor")
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/login"


def test_next_survives_the_second_step(app, client, db_session, redis_client):
    UserFactory(username="siti", two_factor=True)
    response = attempt_login(client, "siti", query_string={"next": "/account/password"})
    assert response.headers["Location"] == "/auth/two-factor"
    done = post(client, "/auth/two-factor", {"code": totp_code("siti")})
    assert done.headers["Location"] == "/account/password"


def test_turning_it_on_ends_other_sessions(app, client, db_session, redis_client):
    assert attempt_login(client, UserFactory(username="siti").username).status_code == 302
    elsewhere = new_browser(app)
    assert attempt_login(elsewhere, "siti").status_code == 302
    set_up(client)
    assert signed_in(client)
    assert not signed_in(elsewhere)


def test_turning_it_off_needs_the_password_and_a_code(
    app, client, db_session, redis_client, outbox
):
    assert attempt_login(client, UserFactory(username="siti").username).status_code == 302
    _, codes = set_up(client)
    manage = client.get("/account/two-factor")
    assert "Two-step sign-in is on" in text(manage)
    assert "<strong>10</strong> unused recovery codes" in text(manage)

    wrong = post(client, "/account/two-factor/disable", {"password": TEST_PASSWORD, "code": "1"})
    assert wrong.status_code == 422
    wrong = post(client, "/account/two-factor/disable", {"password": "nope", "code": codes[0]})
    assert wrong.status_code == 422
    assert two_factor_views.BAD_PASSWORD in page(wrong)
    user = db_session.scalar(select(User).where(User.username == "siti"))
    assert two_factor.is_enabled(user)

    off = post(client, "/account/two-factor/disable", {"password": TEST_PASSWORD, "code": codes[0]})
    assert off.status_code == 302
    assert not two_factor.is_enabled(user)
    assert db_session.scalar(select(RecoveryCode).where(RecoveryCode.user_id == user.id)) is None
    assert "was just turned off" in outbox[-1].body
    log_out(client)
    assert attempt_login(client, "siti").headers["Location"] == "/"  # the password alone again


def test_new_recovery_codes_void_the_old_ones(app, client, db_session, redis_client, outbox):
    assert attempt_login(client, UserFactory(username="siti").username).status_code == 302
    secret, old = set_up(client)
    refused = post(client, "/account/two-factor/recovery-codes", {"code": old[0]})
    assert refused.status_code == 422  # a recovery code can't make new recovery codes
    ahead = pyotp.TOTP(secret).at(time.time() + two_factor.STEP_SECONDS)
    made = post(client, "/account/two-factor/recovery-codes", {"code": ahead})
    assert made.status_code == 200
    new = CODE_ON_PAGE.findall(text(made))
    assert len(new) == 10
    assert not set(new) & set(old)
    assert "new recovery codes" in outbox[-1].body
    log_out(client)
    attempt_login(client, "siti")
    assert post(client, "/auth/two-factor", {"code": old[1]}).status_code == 422
    assert post(client, "/auth/two-factor", {"code": new[1]}).status_code == 302


def test_operators_must_set_it_up_before_the_dashboard_opens(app, client, db_session, redis_client):
    UserFactory(username="ops_anna", role="admin", two_factor=False)
    assert attempt_login(client, "ops_anna").headers["Location"] == "/"  # no second step yet
    for path in ("/admin/dashboard", "/admin/flags"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"] == "/account/two-factor"
    assert "Operators keep two-step sign-in on" in page(client.get("/account/two-factor"))
    set_up(client)
    assert client.get("/admin/dashboard").status_code == 200
    assert client.get("/admin/flags").status_code == 200
    # ...and cannot turn it off again.
    off = post(client, "/account/two-factor/disable", {"password": TEST_PASSWORD, "code": "1"})
    assert off.status_code == 403
    assert two_factor_views.OPERATORS_KEEP_IT in page(off)


def test_operators_log_in_with_the_code(app, client, db_session, redis_client):
    UserFactory(username="ops_anna", role="admin")
    assert attempt_login(client, "ops_anna").headers["Location"] == "/auth/two-factor"
    assert client.get("/admin/dashboard").status_code == 302
    assert post(client, "/auth/two-factor", {"code": totp_code("ops_anna")}).status_code == 302
    assert client.get("/admin/dashboard").status_code == 200


def test_the_secret_is_encrypted_and_follows_a_key_rotation(app, db_session, caplog):
    user = UserFactory(username="siti", two_factor=True)
    record = db_session.get(TwoFactor, user.id)
    under_old_key = record.secret
    assert TEST_TOTP_SECRET not in under_old_key
    old_key = app.config["TOTP_ENCRYPTION_KEY"]
    new_key = "a-new-totp-encryption-key-of-forty-chars"
    app.config["TOTP_ENCRYPTION_KEY"], app.config["TOTP_ENCRYPTION_KEYS_RETIRED"] = new_key, ()
    try:
        # Without the old key, nothing decrypts, and the log says why (never the secret).
        assert two_factor.check_app_code(user, pyotp.TOTP(TEST_TOTP_SECRET).now()) == "wrong"
        assert "does not decrypt" in caplog.text
        assert TEST_TOTP_SECRET not in caplog.text
        app.config["TOTP_ENCRYPTION_KEYS_RETIRED"] = (old_key,)
        assert two_factor.check_app_code(user, pyotp.TOTP(TEST_TOTP_SECRET).now()) == "ok"
        db_session.flush()
        db_session.refresh(record)
        assert record.secret != under_old_key  # moved to the new key when used
        app.config["TOTP_ENCRYPTION_KEYS_RETIRED"] = ()
        ahead = pyotp.TOTP(TEST_TOTP_SECRET).at(time.time() + two_factor.STEP_SECONDS)
        assert two_factor.check_app_code(user, ahead) == "ok"
    finally:
        app.config["TOTP_ENCRYPTION_KEY"] = old_key
        app.config["TOTP_ENCRYPTION_KEYS_RETIRED"] = ()


def test_codes_within_one_step_of_the_clock_are_accepted_and_no_further():
    secret = two_factor.new_secret()
    totp = pyotp.TOTP(secret)
    now = 1_800_000_000.0
    step = int(now // 30)
    for offset, expected in [(-2, None), (-1, step - 1), (0, step), (1, step + 1), (2, None)]:
        assert two_factor.code_step(secret, totp.at(now + offset * 30), now) == expected


def test_support_can_turn_it_off_for_a_diner_who_lost_everything(app, client, db_session):
    user = UserFactory(username="siti", email="siti@example.com", two_factor=True)
    log_in(client, "siti")
    result = CliRunner().invoke(app.cli, ["users", "reset-two-factor", "SITI@example.com"])
    assert result.exit_code == 0, result.output
    assert "Two-step sign-in is off for siti" in result.output
    assert not two_factor.is_enabled(user)
    assert not signed_in(client)  # every session of the account ended
    with app.app_context():
        assert session_storage.for_user(user.id) == []
    missing = CliRunner().invoke(app.cli, ["users", "reset-two-factor", "nobody@example.com"])
    assert missing.exit_code != 0
    assert "No account with the email" in missing.output


def test_operators_give_a_code_in_every_session_that_opens_admin(
    app, client, db_session, redis_client
):
    """A session signed in with the password alone (before the operator set two-step sign-in
    up, or by the cookie escape hatch) is signed out at /admin and asked for a code."""
    anna = UserFactory(username="ops_anna", role="admin")
    with client.session_transaction() as stored:
        stored["_user_id"] = str(anna.id)
        stored["_fresh"] = True
    bounced = client.get("/admin/flags?tab=experiments")
    assert bounced.status_code == 302
    assert bounced.headers["Location"] == "/auth/two-factor"
    assert not signed_in(client)
    step = client.get("/auth/two-factor")
    assert "Type a code from your authenticator app to open the operator pages" in page(step)
    done = post(client, "/auth/two-factor", {"code": totp_code("ops_anna")})
    assert done.headers["Location"] == "/admin/flags?tab=experiments"
    assert client.get("/admin/dashboard").status_code == 200


def test_a_half_way_log_in_ends_with_the_accounts_sessions_and_with_its_password(
    app, client, db_session, redis_client
):
    siti = UserFactory(username="siti", two_factor=True)
    assert attempt_login(client, "siti").headers["Location"] == "/auth/two-factor"
    with app.app_context():  # filed under the account, so "log out everywhere" finds it
        assert len(session_storage.for_user(siti.id)) == 1
        end_sessions(siti.id)
    gone = post(client, "/auth/two-factor", {"code": totp_code("siti")})
    assert gone.headers["Location"] == "/auth/login"
    assert not signed_in(client)
    # A password changed meanwhile (by a reset elsewhere) voids the half-way log-in too.
    assert attempt_login(client, "siti").headers["Location"] == "/auth/two-factor"
    siti.password_hash = hash_password("a brand new passphrase")
    db_session.flush()
    changed = post(client, "/auth/two-factor", {"code": totp_code("siti")})
    assert changed.headers["Location"] == "/auth/login"
    assert not signed_in(client)


def test_the_secret_being_set_up_is_never_stored_in_the_clear(
    app, client, db_session, redis_client
):
    siti = UserFactory(username="siti")
    log_in(client, "siti")
    setup = client.get("/account/two-factor")
    secret = SECRET_ON_PAGE.search(text(setup)).group(1).replace(" ", "")
    with app.app_context():
        (item,) = session_storage.for_user(siti.id)
    assert "two_factor_setup" in item.data
    assert secret not in item.data  # the session store (and its backups) hold it encrypted
    # Bound to its account: another diner's session can't carry it into their own set-up.
    other = new_browser(app)
    log_in(other, UserFactory(username="bob").username)
    with client.session_transaction() as mine:
        carried = mine["two_factor_setup"]
    with other.session_transaction() as theirs:
        theirs["two_factor_setup"] = carried
    assert secret not in text(other.get("/account/two-factor"))


def test_turning_it_off_ends_other_sessions(app, client, db_session, redis_client):
    UserFactory(username="siti", two_factor=True)
    log_in(client, "siti")
    elsewhere = new_browser(app)
    log_in(elsewhere, "siti")
    off = post(client, "/account/two-factor/disable",
               {"password": TEST_PASSWORD, "code": totp_code("siti")})  # fmt: skip
    assert off.status_code == 302
    assert signed_in(client)
    assert not signed_in(elsewhere)


def test_a_code_typed_twice_on_an_account_page_is_explained_without_alarm(
    app, client, db_session, redis_client, outbox
):
    UserFactory(username="siti", two_factor=True)
    log_in(client, "siti")
    code = totp_code("siti")
    first = post(client, "/account/two-factor/recovery-codes", {"code": code})
    assert first.status_code == 200
    again = post(client, "/account/two-factor/recovery-codes", {"code": code})
    assert again.status_code == 422
    assert two_factor_views.JUST_USED in page(again)
    assert two_factor_views.REUSED_SUBJECT not in [m.subject for m in outbox]


def test_setting_up_twice_at_once_turns_it_on_once(
    app, client, db_session, redis_client, monkeypatch
):
    siti = UserFactory(username="siti")
    log_in(client, "siti")
    setup = client.get("/account/two-factor")
    secret = SECRET_ON_PAGE.search(text(setup)).group(1).replace(" ", "")
    db_session.add(TwoFactor(user_id=siti.id, secret=two_factor.encrypt(secret)))  # the other one
    db_session.flush()
    monkeypatch.setattr(two_factor, "is_enabled", lambda user: False)  # it checked before that
    done = post(client, "/account/two-factor/enable",
                {"code": pyotp.TOTP(secret).now(), "password": TEST_PASSWORD})  # fmt: skip
    assert done.status_code == 302
    monkeypatch.undo()
    assert "Two-step sign-in is on already" in page(client.get(done.headers["Location"]))
