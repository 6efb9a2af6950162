"""Logging in and out, and where a diner lands afterwards."""

import pytest
from argon2 import PasswordHasher

from bellyfed.accounts import services
from bellyfed.accounts.passwords import needs_rehash, verify_password
from bellyfed.accounts.services import find_account
from tests.accounts.support import attempt_login
from tests.factories import TEST_PASSWORD, UserFactory
from tests.web import csrf_token, post, text

BAD_CREDENTIALS = "That username or email and password don&#39;t match."


def logged_in(client) -> bool:
    return client.get("/account").status_code == 200


def test_the_page_labels_every_input(client):
    page = text(client.get("/auth/login"))
    assert '<label for="identifier">Username or email</label>' in page
    assert '<label for="password">Password</label>' in page


def test_logging_in_with_the_username(client, db_session):
    user = UserFactory(username="siti", display_name="Siti")
    assert user.last_login_at is None

    response = attempt_login(client, "siti")

    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    db_session.refresh(user)
    assert user.last_login_at is not None
    assert "Welcome back, Siti." in text(client.get("/"))
    assert logged_in(client)


def test_logging_in_with_the_email_in_any_case(client):
    UserFactory(email="Siti@Example.com")
    assert attempt_login(client, "  SITI@example.COM ").status_code == 302
    assert logged_in(client)


@pytest.mark.parametrize(
    ("identifier", "password"),
    [("siti", "not the password at all"), ("nobody_here", TEST_PASSWORD)],
)
def test_a_wrong_password_or_unknown_user_gets_the_same_answer(client, identifier, password):
    UserFactory(username="siti")
    response = attempt_login(client, identifier, password)
    assert response.status_code == 200
    assert BAD_CREDENTIALS in text(response)
    assert not logged_in(client)


def test_missing_fields_are_explained(client):
    page = text(post(client, "/auth/login", {}))
    assert "Enter your username or email." in page
    assert "Enter your password." in page


def test_a_deactivated_account_cannot_log_in(client):
    UserFactory(username="siti", is_active=False)
    response = attempt_login(client, "siti")
    assert BAD_CREDENTIALS in text(response)
    assert not logged_in(client)


def test_an_old_hash_is_upgraded_on_login(client, db_session):
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(TEST_PASSWORD)
    user = UserFactory(username="siti", password_hash=weak)
    assert needs_rehash(weak)

    attempt_login(client, "siti")

    db_session.refresh(user)
    assert user.password_hash != weak
    assert not needs_rehash(user.password_hash)
    assert verify_password(user.password_hash, TEST_PASSWORD)


def test_a_login_post_without_the_csrf_token_is_refused(client):
    UserFactory(username="siti")
    response = client.post("/auth/login", data={"identifier": "siti", "password": TEST_PASSWORD})
    assert response.status_code == 400
    assert not logged_in(client)


def test_next_is_honoured_for_a_local_path(client):
    UserFactory(username="siti")
    response = post(
        client,
        "/auth/login?next=/search%3Fq%3Dlaksa",
        {"identifier": "siti", "password": TEST_PASSWORD},
    )
    assert response.headers["Location"] == "/search?q=laksa"


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example",
        "//evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "javascript:alert(1)",
        "/\t/evil.example",
        "http:/evil.example",
        "evil.example",
    ],
)
def test_next_never_leaves_the_site(client, target):
    UserFactory(username="siti")
    token = csrf_token(client)
    response = client.post(
        "/auth/login",
        query_string={"next": target},
        data={"csrf_token": token, "identifier": "siti", "password": TEST_PASSWORD},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_the_form_carries_next_on_to_its_post(client):
    page = text(client.get("/auth/login?next=/account"))
    assert 'action="/auth/login?next=/account"' in page


def test_logout_needs_a_post(client):
    UserFactory(username="siti")
    attempt_login(client, "siti")
    assert client.get("/auth/logout").status_code == 405
    assert logged_in(client)


def test_logout_without_the_csrf_token_is_refused(client):
    UserFactory(username="siti")
    attempt_login(client, "siti")
    assert client.post("/auth/logout").status_code == 400
    assert logged_in(client)


def test_logging_out(client):
    UserFactory(username="siti")
    attempt_login(client, "siti")
    token = csrf_token(client, "/account")

    response = client.post("/auth/logout", data={"csrf_token": token})

    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert "You&#39;re logged out." in text(client.get("/"))
    assert not logged_in(client)


def test_a_logged_in_diner_skips_the_login_page(client):
    UserFactory(username="siti")
    attempt_login(client, "siti")
    response = client.get("/auth/login?next=/account")
    assert response.status_code == 302
    assert response.headers["Location"] == "/account"


def test_accounts_are_found_by_username_or_email(db_session):
    user = UserFactory(username="siti", email="Siti@Example.com")
    assert find_account("SITI") == user
    assert find_account(" siti@example.com ") == user
    assert find_account("nobody") is None
    assert find_account("nobody@example.com") is None


def test_an_unknown_account_still_costs_an_argon2_check(app, monkeypatch):
    checked = []
    monkeypatch.setattr(
        services, "verify_password", lambda password_hash, password: checked.append(password_hash)
    )
    with app.app_context():  # the dummy hash is made under the app's own pepper
        assert services.authenticate(None, "any password at all") is None
    assert len(checked) == 1
    assert "$argon2id$" in checked[0]
