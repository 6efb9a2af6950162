"""``flask users pepper-hashes`` (hashes from before the pepper, peppered without their passwords)
and ``flask users key-report`` (what each pepper and two-step key still protects)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Flask
from sqlalchemy import select

from bellyfed.accounts import two_factor
from bellyfed.accounts.models import TwoFactor, User
from bellyfed.accounts.passwords import (
    hash_password,
    needs_rehash,
    pepper_id,
    phc_string,
    verify_password,
    wrap_bare_hash,
)
from bellyfed.extensions import db
from tests.accounts.support import attempt_login
from tests.factories import TEST_PASSWORD, TEST_TOTP_SECRET, UserFactory
from tests.web import log_in

PEPPER_A = "a-pepper-of-forty-characters-for-tests-1"
PEPPER_B = "b-pepper-of-forty-characters-for-tests-2"
KEY_A = "a-totp-key-of-forty-characters-for-test1"
KEY_B = "b-totp-key-of-forty-characters-for-test2"
# How hashes were stored before the pepper: today's parameters, and OWASP's floor with a shorter
# salt and digest (the wrapped form keeps the digest's length).
OLD_HASHERS = [PasswordHasher(), PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1,
                                                hash_len=16, salt_len=8)]  # fmt: skip


@contextmanager
def configured(app: Flask, **settings: object) -> Iterator[None]:
    """Some of the app's settings changed for a while (restored after)."""
    before = {name: app.config[name] for name in settings}
    app.config.update(settings)
    try:
        yield
    finally:
        app.config.update(before)


def peppered(app: Flask, pepper: str, *retired: str):
    return configured(app, PASSWORD_PEPPER=pepper, PASSWORD_PEPPERS_RETIRED=retired)


def invoke(app: Flask, command: str):
    result = app.test_cli_runner().invoke(args=["users", command])
    assert result.exit_code == 0, result.output
    return result


def stored_hashes() -> dict[str, str]:
    return dict(db.session.execute(select(User.username, User.password_hash)).all())


@pytest.mark.parametrize("old", OLD_HASHERS, ids=["current-parameters", "owasp-floor"])
def test_a_bare_hash_wrapped_by_the_command_still_logs_in_and_is_upgraded(app, client, old):
    bare = old.hash(TEST_PASSWORD)
    UserFactory(username="dormant", password_hash=bare)
    UserFactory(username="active")  # already peppered: left as it is
    db.session.flush()
    before = stored_hashes()

    result = invoke(app, "pepper-hashes")
    assert "Wrapped 1 hash from before the pepper." in result.output
    after = stored_hashes()
    assert after["active"] == before["active"]
    wrapped = after["dormant"]
    assert wrapped.startswith(f"pepperwrap:{pepper_id(app.config['PASSWORD_PEPPER'])}:$argon2id$")
    # The table no longer holds anything an attacker can check a guess against without the
    # pepper: the old digest is gone, and argon2 over the password alone matches nothing.
    assert bare.rsplit("$", 1)[1] not in wrapped
    with pytest.raises((VerificationError, InvalidHashError)):
        PasswordHasher().verify(phc_string(wrapped), TEST_PASSWORD)
    assert not [name for name, stored in after.items() if not stored.startswith("pepper")]

    assert attempt_login(client, "dormant", "a wrong passphrase").status_code == 200
    assert stored_hashes()["dormant"] == wrapped
    log_in(client, "dormant")
    upgraded = stored_hashes()["dormant"]
    assert upgraded.startswith("pepper:")
    assert not needs_rehash(upgraded)
    assert verify_password(upgraded, TEST_PASSWORD)


def test_a_wrapped_hash_verifies_only_with_its_own_pepper(app, db_session, caplog):
    bare = PasswordHasher().hash(TEST_PASSWORD)
    with peppered(app, PEPPER_A):
        wrapped = wrap_bare_hash(bare)
        assert verify_password(wrapped, TEST_PASSWORD)
        assert not verify_password(wrapped, TEST_PASSWORD + " ")
        assert needs_rehash(wrapped)  # the next log-in makes a normal hash
    forged = wrapped.replace(pepper_id(PEPPER_A), pepper_id(PEPPER_B))
    with peppered(app, PEPPER_B):
        assert not verify_password(wrapped, TEST_PASSWORD)  # pepper A is not configured
        assert not verify_password(forged, TEST_PASSWORD)  # B's id, but A's HMAC
    assert "names pepper" in caplog.text
    with peppered(app, PEPPER_B, PEPPER_A):
        assert verify_password(wrapped, TEST_PASSWORD)  # retired peppers still verify
    tampered = wrapped[:-2] + ("AA" if not wrapped.endswith("AA") else "BB")
    broken = wrapped.replace(",l=32$", ",l=x$")
    with peppered(app, PEPPER_A):
        assert not verify_password(tampered, TEST_PASSWORD)
        assert not verify_password(broken, TEST_PASSWORD)
        assert wrap_bare_hash("not an argon2 hash") is None
        assert wrap_bare_hash(hash_password(TEST_PASSWORD)) is None  # only bare ones


def test_running_it_twice_changes_nothing(app, db_session):
    for number, old in enumerate(OLD_HASHERS):
        UserFactory(username=f"dormant{number}", password_hash=old.hash(TEST_PASSWORD))
    UserFactory(username="broken", password_hash="pepper:abc")  # not argon2: left alone
    db.session.flush()
    first = invoke(app, "pepper-hashes")
    assert "Wrapped 2 hashes from before the pepper." in first.output
    assert "Left alone, not argon2 hashes (1)" in first.output
    once = stored_hashes()
    second = invoke(app, "pepper-hashes")
    assert "Wrapped 0 hashes from before the pepper." in second.output
    assert stored_hashes() == once
    assert once["broken"] == "pepper:abc"


def test_it_works_in_batches(app, db_session):
    for number in range(5):
        UserFactory(username=f"dormant{number}", password_hash=OLD_HASHERS[1].hash(TEST_PASSWORD))
    db.session.flush()
    result = app.test_cli_runner().invoke(args=["users", "pepper-hashes", "--batch-size", "2"])
    assert result.exit_code == 0, result.output
    assert result.output.count("wrapped (up to user id") == 3
    assert all(stored.startswith("pepperwrap:") for stored in stored_hashes().values())


def test_the_key_report_counts_what_each_pepper_and_key_still_protects(app, db_session):
    with peppered(app, PEPPER_A):
        under_a = hash_password(TEST_PASSWORD)
        wrapped_a = wrap_bare_hash(PasswordHasher().hash(TEST_PASSWORD))
    with peppered(app, PEPPER_B):
        under_b = hash_password(TEST_PASSWORD)
    hashes = [under_a, under_a, wrapped_a, under_b, PasswordHasher().hash(TEST_PASSWORD),
              "pepper:0badc0de:$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$ZGlnZXN0", "garbage"]  # fmt: skip
    users = [UserFactory(username=f"user{n}", password_hash=h) for n, h in enumerate(hashes)]
    stored_secrets = {}
    for key, user in ((KEY_A, users[0]), (KEY_A, users[1]), (KEY_B, users[2])):
        with configured(app, TOTP_ENCRYPTION_KEY=key):
            stored_secrets[user.id] = two_factor.encrypt(TEST_TOTP_SECRET)
    stored_secrets[users[3].id] = "not a fernet token"
    db.session.add_all(TwoFactor(user_id=i, secret=s) for i, s in stored_secrets.items())
    db.session.flush()

    with (
        peppered(app, PEPPER_B, PEPPER_A, PEPPER_A + "-never-used"),
        configured(
            app, TOTP_ENCRYPTION_KEY=KEY_B, TOTP_ENCRYPTION_KEYS_RETIRED=(KEY_A, KEY_A + "x")
        ),
    ):
        output = invoke(app, "key-report").output
    assert f"{pepper_id(PEPPER_B)}  current (PASSWORD_PEPPER): 1 / 0\n" in output
    assert f"{pepper_id(PEPPER_A)}  retired #1 (PASSWORD_PEPPERS_RETIRED): 2 / 1\n" in output
    unused = pepper_id(PEPPER_A + "-never-used")
    assert f"{unused}  retired #2 (PASSWORD_PEPPERS_RETIRED): 0 / 0  -> can be dropped" in output
    assert "0badc0de  UNKNOWN, these accounts cannot log in: 1 / 0" in output
    assert "bare (from before the pepper; run pepper-hashes): 1\n" in output
    assert "unreadable (no password logs in): 1\n" in output
    assert "current (TOTP_ENCRYPTION_KEY): 1\n" in output
    assert "retired #1 (TOTP_ENCRYPTION_KEYS_RETIRED): 2\n" in output
    assert "retired #2 (TOTP_ENCRYPTION_KEYS_RETIRED): 0  -> can be dropped" in output
    assert f"undecryptable: 1 (user ids {users[3].id})" in output
