"""Account constraints, preferences, and password hashing."""

import re

import pytest
from sqlalchemy import text

from bellyfed.accounts.passwords import hash_password, needs_rehash, verify_password
from tests.factories import CuisineFactory, UserFactory, UserPreferencesFactory
from tests.helpers import violates


def test_emails_are_unique_whatever_their_case(db_session):
    UserFactory(email="Siti@Example.com")
    with violates("uq_users_email_lower"):
        UserFactory(email="siti@example.COM")


def test_usernames_are_unique(db_session):
    UserFactory(username="siti")
    with violates("uq_users_username"):
        UserFactory(username="siti")


@pytest.mark.parametrize("username", ["ab", "Siti", "siti lim", "x" * 31, "siti;drop"])
def test_bad_usernames_are_refused(db_session, username):
    with violates("ck_users_username_format"):
        UserFactory(username=username)


def test_unknown_role_is_refused(db_session):
    with violates("ck_users_role_known"):
        UserFactory(role="superuser")


@pytest.mark.parametrize(
    ("fields", "constraint"),
    [
        ({"price_min": 3, "price_max": 2}, "ck_user_preferences_price_order"),
        ({"price_min": 0}, "ck_user_preferences_price_min_range"),
        ({"price_max": 5}, "ck_user_preferences_price_max_range"),
        ({"dietary_needs": ["halal", "paleo"]}, "ck_user_preferences_dietary_needs_known"),
    ],
)
def test_bad_preferences_are_refused(db_session, fields, constraint):
    with violates(constraint):
        UserPreferencesFactory(**fields)


def test_preferences_keep_favourite_cuisines_and_go_with_the_user(db_session):
    malay = CuisineFactory(name="Malay")
    prefs = UserPreferencesFactory(favourite_cuisines=[malay], dietary_needs=["halal"])
    assert [c.name for c in prefs.user.preferences.favourite_cuisines] == ["Malay"]
    db_session.execute(text("DELETE FROM users WHERE id = :u"), {"u": prefs.user_id})
    assert db_session.scalar(text("SELECT count(*) FROM user_favourite_cuisines")) == 0


def test_passwords_are_peppered_argon2id_and_verify(app):
    with app.app_context():
        hashed = hash_password("a long enough passphrase")
        _check_hash(hashed)


def _check_hash(hashed: str) -> None:
    assert re.fullmatch(r"pepper:[0-9a-f]{8}:\$argon2id\$v=19\$m=65536,t=3,p=4\$\S+", hashed)
    assert verify_password(hashed, "a long enough passphrase")
    assert not verify_password(hashed, "a wrong passphrase")
    assert not verify_password("not a hash", "anything")
    assert not needs_rehash(hashed)
