"""ASVS V2 (authentication) and V3 (session management) items that no other test shows:
password length limits and the common/breached password list, argon2id's parameters and their
upgrade at log-in, no truncation, the pepper's edge cases, and a privilege change ending the
account's sessions."""

from __future__ import annotations

import gzip
import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from argon2 import PasswordHasher, extract_parameters
from argon2 import Type as Argon2Type
from argon2.exceptions import VerifyMismatchError
from flask import Flask
from werkzeug.datastructures import MultiDict

from bellyfed.accounts import passwords, services
from bellyfed.accounts.forms import RegistrationForm, ResetPasswordForm
from bellyfed.accounts.models import User
from bellyfed.accounts.passwords import (
    COMMON_MESSAGE,
    COMMON_PASSWORDS_FILE,
    OWASP_MINIMUM,
    PERSONAL_MESSAGE,
    hash_password,
    is_common,
    needs_rehash,
    phc_string,
    verify_password,
)
from bellyfed.dynamo import sessions as session_storage
from bellyfed.extensions import db
from tests.factories import TEST_PASSWORD, UserFactory
from tests.security.conftest import COUNTS
from tests.web import csrf_token, log_in, post

# Passwords of 12+ characters an attacker tries first: listed ones, and the usual disguises.
COMMON = [
    "1q2w3e4r5t6y", "qwertyuiop12", "123456789123", "qwerty123456", "passwordpassword",
    "Password1234", "PASSWORD1234!", "iloveyou2024!", "!!iloveyou!!", "P a s s w o r d 1 2 3",
    "aaaaaaaaaaaa", "abcabcabcabc", "111111111111", "qazwsxedcrfv", "1qaz2wsx3edc",
    "football1234", "monkey123456", "letmein12345", "dragon2023!!", "sunshine1234",
]  # fmt: skip
GOOD = [
    TEST_PASSWORD, "nasi lemak every morning", "a sambal-hot passphrase",
    "kopi-o kosong, dua", "émincé de bœuf à minuit", "🍜 ramen at 2am 🍜 yes",
    "🍜🍛🍣 makan time!", "Tr0ub4dor&3-but-longer",
]  # fmt: skip


def _registration(app, password: str, **fields: str) -> RegistrationForm:
    data = {"username": "newdiner", "email": "new@example.com", "display_name": "New",
            "password": password, "confirm": password, **fields}  # fmt: skip
    with app.test_request_context(method="POST", data=data):
        form = RegistrationForm(meta={"csrf": False})
        form.validate()
        return form


@pytest.mark.parametrize("password", COMMON)
def test_sign_up_refuses_common_and_breached_passwords(app, db_session, password):
    COUNTS["passwords: common/breached tried at sign-up"] += 1
    assert is_common(password)
    form = _registration(app, password)
    assert COMMON_MESSAGE in form.password.errors


@pytest.mark.parametrize("password", GOOD)
def test_long_passphrases_in_any_script_are_accepted(app, db_session, password):
    form = _registration(app, password)
    assert form.password.errors == []


@pytest.mark.parametrize(("password", "ok"), [("x1" * 5 + "z", False), ("long enough!", True),
                                              ("y" * 64, True), ("é" * 128, True),
                                              ("z" * 129, False)])  # fmt: skip
def test_new_passwords_are_12_to_128_characters(app, db_session, password, ok):
    password = password if len(set(password)) > 1 else password[:-2] + "q7"  # not a repetition
    form = _registration(app, password)
    assert (form.password.errors == []) is ok, form.password.errors


@pytest.mark.parametrize("password", ["newdiner", "newdiner2024", "new@example.com", "New"])
def test_sign_up_refuses_the_username_or_email_as_password(app, db_session, password):
    padded = password if len(password) >= 12 else password + "123456789012"[len(password) :]
    form = _registration(app, padded, display_name="Newdiner Display")
    assert form.password.errors, padded
    assert PERSONAL_MESSAGE in form.password.errors or COMMON_MESSAGE in form.password.errors


def test_sign_up_through_the_page_refuses_a_common_password(world, new_browser):
    client = new_browser(None)
    data = {"csrf_token": csrf_token(client, "/auth/register"), "username": "commoner",
            "email": "commoner@example.com", "display_name": "C", "password": "Password1234",
            "confirm": "Password1234"}  # fmt: skip
    page = client.post("/auth/register", data=data)
    assert page.status_code == 200
    assert "attackers try first" in page.get_data(as_text=True)
    assert db.session.query(User).filter_by(username="commoner").count() == 0


def test_a_reset_refuses_common_passwords_too(app, db_session):
    with app.test_request_context(method="POST", data=MultiDict(
            {"password": "qwerty123456", "confirm": "qwerty123456"})):  # fmt: skip
        form = ResetPasswordForm(meta={"csrf": False})
        assert not form.validate()
        assert COMMON_MESSAGE in form.password.errors


def test_the_list_is_the_shipped_file_and_nothing_is_fetched():
    readme = (COMMON_PASSWORDS_FILE.parent / "README.md").read_text()
    digest = hashlib.sha256(COMMON_PASSWORDS_FILE.read_bytes()).hexdigest()
    assert digest in readme
    with gzip.open(COMMON_PASSWORDS_FILE, "rt", encoding="utf-8") as lines:
        assert sum(1 for _ in lines) > 19_000
    assert len(passwords.common_passwords()) > 19_000
    source = (COMMON_PASSWORDS_FILE.parent.parent / "passwords.py").read_text()
    assert not re.search(r"\b(requests|urllib|httpx|socket|http\.client)\b", source)


def test_argon2id_parameters_are_at_or_above_owasps_minimum(app):
    with app.app_context():
        parameters = extract_parameters(phc_string(hash_password("kopi-o kosong, dua")))
    assert parameters.type is Argon2Type.ID
    assert parameters.memory_cost >= OWASP_MINIMUM["memory_cost_kib"] == 19 * 1024
    assert parameters.time_cost >= OWASP_MINIMUM["time_cost"] == 2
    assert parameters.parallelism >= OWASP_MINIMUM["parallelism"] == 1
    assert parameters.salt_len >= 16
    assert parameters.hash_len >= 32


@pytest.mark.parametrize(
    "old", [
        {"time_cost": 2, "memory_cost": 19 * 1024, "parallelism": 1},  # OWASP's floor: changed
        {"time_cost": 3, "memory_cost": 64 * 1024, "parallelism": 4, "salt_len": 8},
    ], ids=["owasp-floor", "short-salt"],
)  # fmt: skip
def test_a_hash_made_with_other_parameters_is_replaced_at_the_next_log_in(world, new_browser, old):
    user = UserFactory(
        username="rehash_me", password_hash=PasswordHasher(**old).hash(TEST_PASSWORD)
    )
    db.session.flush()
    assert needs_rehash(user.password_hash)
    log_in(new_browser(None), "rehash_me")
    db.session.refresh(user)
    assert not needs_rehash(user.password_hash)
    assert verify_password(user.password_hash, TEST_PASSWORD)


def test_passwords_are_never_truncated(app):
    long = "kopi-o kosong " * 8  # 112 characters: past bcrypt's 72-byte cut-off
    with app.app_context():
        stored = hash_password(long)
        assert not verify_password(stored, long[:72])
        assert not verify_password(stored, long[:-1])
        assert verify_password(stored, long)


PEPPER_A = "a-pepper-of-forty-characters-for-tests-1"
PEPPER_B = "b-pepper-of-forty-characters-for-tests-2"


@contextmanager
def peppered(app: Flask, pepper: str, *retired: str) -> Iterator[None]:
    """The app's pepper settings for a while (restored after)."""
    before = app.config["PASSWORD_PEPPER"], app.config["PASSWORD_PEPPERS_RETIRED"]
    app.config["PASSWORD_PEPPER"], app.config["PASSWORD_PEPPERS_RETIRED"] = pepper, retired
    try:
        yield
    finally:
        app.config["PASSWORD_PEPPER"], app.config["PASSWORD_PEPPERS_RETIRED"] = before


def test_a_stolen_hash_is_useless_without_the_pepper(app, caplog):
    """ASVS 2.4.5: the database copy alone cannot be cracked offline, the pepper is not in it."""
    with peppered(app, PEPPER_A), app.app_context():
        stored = hash_password(TEST_PASSWORD)
        assert verify_password(stored, TEST_PASSWORD)
    assert PEPPER_A not in stored
    assert stored.split(":")[1] == passwords.pepper_id(PEPPER_A) != passwords.pepper_id(PEPPER_B)
    # What an attacker with the table would try: argon2 over the password itself fails.
    with pytest.raises(VerifyMismatchError):
        PasswordHasher().verify(phc_string(stored), TEST_PASSWORD)
    # Another deployment's pepper (or a forged id) verifies nothing, and says why in the log.
    with peppered(app, PEPPER_B), app.app_context():
        assert not verify_password(stored, TEST_PASSWORD)
    assert "names pepper" in caplog.text
    assert PEPPER_A not in caplog.text


def test_a_retired_pepper_still_verifies_and_is_replaced_at_the_next_log_in(
    app, world, new_browser
):
    with peppered(app, PEPPER_A):
        old = hash_password(TEST_PASSWORD)
    user = UserFactory(username="pepper_rotation", password_hash=old)
    db.session.flush()
    with peppered(app, PEPPER_B, PEPPER_A):
        assert verify_password(old, TEST_PASSWORD)
        assert needs_rehash(old)
        log_in(new_browser(None), "pepper_rotation")
        db.session.refresh(user)
        assert user.password_hash.startswith(f"pepper:{passwords.pepper_id(PEPPER_B)}:")
        assert verify_password(user.password_hash, TEST_PASSWORD)
        assert not needs_rehash(user.password_hash)
    with peppered(app, PEPPER_B):  # once A is dropped, the upgraded hash still works
        assert verify_password(user.password_hash, TEST_PASSWORD)


def test_a_hash_from_before_peppers_is_peppered_at_the_next_log_in(app, world, new_browser):
    bare = PasswordHasher().hash(TEST_PASSWORD)  # how hashes were stored before the pepper
    user = UserFactory(username="pepper_upgrade", password_hash=bare)
    db.session.flush()
    with app.app_context():
        assert verify_password(bare, TEST_PASSWORD)
        assert needs_rehash(bare)
    log_in(new_browser(None), "pepper_upgrade")
    db.session.refresh(user)
    with app.app_context():
        assert user.password_hash.startswith("pepper:")
        assert verify_password(user.password_hash, TEST_PASSWORD)
        assert not verify_password(user.password_hash, "a wrong passphrase")


class CountingHasher:
    """passwords._hasher, counting the argon2 verifications it runs (a hash it cannot read is
    refused before argon2 runs)."""

    def __init__(self, inner: PasswordHasher) -> None:
        self.inner, self.verified = inner, 0

    def verify(self, phc: str, secret: str | bytes) -> bool:
        try:
            result = self.inner.verify(phc, secret)
        except VerifyMismatchError:
            self.verified += 1
            raise
        self.verified += 1
        return result

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


@pytest.mark.parametrize(
    "stored", ["pepper:abc", "pepper:", "pepperwrap:abc", "pepper::$argon2id$", "not a hash"]
)
def test_a_malformed_stored_hash_is_a_wrong_password_not_an_error(app, world, new_browser,
                                                                  monkeypatch, stored):  # fmt: skip
    UserFactory(username="malformed", password_hash=stored)
    db.session.flush()
    hasher = CountingHasher(passwords._hasher)
    monkeypatch.setattr(passwords, "_hasher", hasher)
    browser = new_browser(None)
    response = browser.post("/auth/login", data={
        "csrf_token": csrf_token(browser), "identifier": "malformed", "password": TEST_PASSWORD,
    })  # fmt: skip
    assert response.status_code == 200  # the form again, with "wrong username or password"
    assert hasher.verified == 1  # and as long as a wrong password takes


def test_a_hash_naming_an_unknown_pepper_still_costs_an_argon2_check(app, monkeypatch, caplog):
    with peppered(app, PEPPER_A), app.app_context():
        stored = hash_password(TEST_PASSWORD)
    hasher = CountingHasher(passwords._hasher)
    monkeypatch.setattr(passwords, "_hasher", hasher)
    with peppered(app, PEPPER_B), app.app_context():
        assert not verify_password(stored, TEST_PASSWORD)
    assert hasher.verified == 1
    assert "names pepper" in caplog.text


def test_an_unknown_account_is_checked_under_the_apps_own_pepper(app, db_session, caplog):
    """The unknown-account dummy hash follows the pepper (one process may run apps with
    different ones): no "pepper not configured" shortcut, which would be faster."""
    for pepper in (PEPPER_A, PEPPER_B, PEPPER_A):
        with peppered(app, pepper):
            dummy = services._dummy_hash()
            assert dummy.split(":")[1] == passwords.pepper_id(pepper)
            assert services.authenticate(None, TEST_PASSWORD) is None
    assert "names pepper" not in caplog.text


def test_a_privilege_change_ends_the_accounts_sessions(app, world, new_browser):
    """``flask users make-admin``: the role starts with a new sign-in, under a new session id."""
    browser = new_browser(world.bob)
    assert browser.get("/account").status_code == 200
    with app.app_context():
        assert session_storage.for_user(world.bob.id)
    result = app.test_cli_runner().invoke(args=["users", "make-admin", world.bob.email])
    assert result.exit_code == 0, result.output
    assert "Ended 1 session" in result.output
    with app.app_context():
        assert session_storage.for_user(world.bob.id) == []
    response = browser.get("/account")
    assert response.status_code == 302
    assert "/auth/login" in response.headers["Location"]
    db.session.refresh(world.bob)
    assert world.bob.role == "admin"


@pytest.mark.parametrize(
    ("page", "who", "expected"),
    [
        ("/auth/login", None, {"identifier": "username", "password": "current-password"}),
        ("/auth/register", None, {"username": "username", "password": "new-password",
                                  "confirm": "new-password"}),
        ("/account/password", "bob", {"current": "current-password", "password": "new-password",
                                      "confirm": "new-password"}),
        ("/account/two-factor", "bob", {"code": "one-time-code", "password": "current-password"}),
        ("/auth/two-factor", "half-way", {"code": "one-time-code"}),
    ],
)  # fmt: skip
def test_password_managers_are_told_what_each_field_is_and_pasting_is_never_blocked(
    new_browser, world, page, who, expected
):
    client = new_browser(world.bob if who == "bob" else None)
    if who == "half-way":  # Alice has two-step sign-in on: her right password leads here
        response = post(
            client, "/auth/login", {"identifier": "alice_sec", "password": TEST_PASSWORD}
        )
        assert response.headers["Location"] == page
    html = client.get(page).get_data(as_text=True)
    for name, value in expected.items():
        tag = re.search(rf'<input[^>]*name="{name}"[^>]*>', html).group(0)
        assert f'autocomplete="{value}"' in tag, tag
    assert not re.search(r"onpaste|oncopy|autocomplete=\"off\"", html)


@pytest.mark.parametrize("choice", ["qwerty123456", "alice_sec2024", "alice_sec@example.com"])
def test_a_reset_refuses_common_and_personal_passwords_and_keeps_the_old_one(
    app, world, new_browser, choice
):
    from bellyfed.dynamo import tokens as token_storage

    with app.app_context():
        secret, _ = token_storage.issue("reset", world.alice.id, 600)
    client = new_browser(None)
    assert client.get(f"/auth/reset/{secret}").status_code == 303
    token = csrf_token(client, "/auth/reset")
    response = client.post(
        "/auth/reset", data={"csrf_token": token, "password": choice, "confirm": choice}
    )
    assert response.status_code == 200
    assert "attackers try first" in response.get_data(as_text=True) or (
        "username or email" in response.get_data(as_text=True)
    )
    db.session.refresh(world.alice)
    assert verify_password(world.alice.password_hash, TEST_PASSWORD)
