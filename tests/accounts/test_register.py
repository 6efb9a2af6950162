"""Signing up: the happy path, every bad input, and the race for a username."""

import pytest
from sqlalchemy import func, select

from bellyfed.accounts import forms
from bellyfed.accounts.models import User
from tests.factories import UserFactory
from tests.web import post, text

GOOD = {
    "username": "siti_lim",
    "email": "siti@example.com",
    "display_name": "Siti Lim",
    "password": "nasi lemak every morning",
    "confirm": "nasi lemak every morning",
}


def user_count(db_session) -> int:
    return db_session.scalar(select(func.count(User.id)))


def test_the_page_labels_every_input(client):
    page = text(client.get("/auth/register"))
    for field in ("username", "email", "display_name", "password", "confirm"):
        assert f'<label for="{field}">' in page
        assert f'id="{field}"' in page


def test_signing_up_creates_the_account_and_logs_in(client, db_session):
    response = post(client, "/auth/register", GOOD)

    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    user = db_session.scalar(select(User).where(User.username == "siti_lim"))
    assert user.email == "siti@example.com"
    assert user.display_name == "Siti Lim"
    assert user.password_hash.startswith("pepper:")
    assert "nasi lemak" not in user.password_hash
    settings = client.get("/account")
    assert settings.status_code == 200
    assert "Welcome to Bellyfed, Siti Lim!" in text(settings)


def test_signing_up_goes_on_to_a_safe_next_page(client):
    response = post(client, "/auth/register?next=/me/rankings", GOOD)
    assert response.headers["Location"] == "/me/rankings"


def test_signing_up_never_goes_to_another_site(client):
    response = post(client, "/auth/register?next=//evil.example", GOOD)
    assert response.headers["Location"] == "/"


def test_usernames_are_lowercased_and_trimmed(client, db_session):
    post(client, "/auth/register", {**GOOD, "username": "  Siti_Lim "})
    assert db_session.scalar(select(User.username)) == "siti_lim"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"password": "short pass", "confirm": "short pass"}, "Use at least 12 characters"),
        ({"confirm": "nasi lemak every evening"}, "The two passwords don&#39;t match."),
        ({"username": "ab"}, forms.USERNAME_MESSAGE),
        ({"username": "siti lim"}, forms.USERNAME_MESSAGE),
        ({"username": "siti;drop"}, forms.USERNAME_MESSAGE),
        ({"username": "x" * 31}, forms.USERNAME_MESSAGE),
        ({"email": "siti.example.com"}, "That doesn&#39;t look like an email address."),
        ({"display_name": "x" * 61}, "Keep your display name to 60 characters."),
        ({"display_name": "   "}, "Tell us what to call you."),
        ({"username": ""}, "Choose a username."),
        ({"email": ""}, "Enter your email address."),
        ({"password": "", "confirm": ""}, "Choose a password."),
        ({"confirm": ""}, "Type your password a second time."),
    ],
)
def test_bad_input_is_explained_and_creates_nothing(client, db_session, changes, message):
    response = post(client, "/auth/register", {**GOOD, **changes})

    assert response.status_code == 200
    assert message in text(response)
    assert 'class="field-error"' in text(response)
    assert user_count(db_session) == 0


def test_a_form_with_no_fields_at_all_is_explained(client, db_session):
    response = post(client, "/auth/register", {})
    page = text(response)
    assert response.status_code == 200
    assert "Choose a username." in page
    assert "Enter your email address." in page
    assert user_count(db_session) == 0


def test_errors_are_tied_to_their_field(client):
    page = text(post(client, "/auth/register", {**GOOD, "username": "ab"}))
    assert 'aria-describedby="username-hint username-error"' in page
    assert 'id="username-error"' in page
    assert 'aria-invalid="true"' in page


def test_a_nul_character_is_a_clear_400_and_no_account(client, db_session):
    response = post(client, "/auth/register", {**GOOD, "display_name": "Siti\x00 Lim"})
    assert response.status_code == 400
    assert "NUL" in text(response)
    assert user_count(db_session) == 0


def test_a_taken_username_is_refused(client, db_session):
    UserFactory(username="siti_lim")
    response = post(client, "/auth/register", GOOD)
    assert response.status_code == 200
    assert "That username is taken. Try another." in text(response)
    assert user_count(db_session) == 1


def test_a_taken_email_is_refused_whatever_its_case(client, db_session):
    UserFactory(email="Siti@Example.COM")
    response = post(client, "/auth/register", GOOD)
    assert response.status_code == 200
    assert "An account with that email already exists." in text(response)
    assert user_count(db_session) == 1


@pytest.mark.parametrize(
    ("existing", "message"),
    [
        ({"username": "siti_lim"}, "That username is taken. Try another."),
        ({"email": "SITI@example.com"}, "An account with that email already exists."),
    ],
)
def test_losing_the_race_for_a_name_is_explained(
    client, db_session, monkeypatch, existing, message
):
    # Someone else signs up between the form's check and our insert: the database decides.
    monkeypatch.setattr(forms.RegistrationForm, "validate_username", lambda form, field: None)
    monkeypatch.setattr(forms.RegistrationForm, "validate_email", lambda form, field: None)
    UserFactory(**existing)

    response = post(client, "/auth/register", GOOD)

    assert response.status_code == 200
    assert message in text(response)
    assert user_count(db_session) == 1


def test_a_post_without_the_csrf_token_is_refused(client, db_session):
    response = client.post("/auth/register", data=GOOD)
    assert response.status_code == 400
    assert "Your form expired or came from elsewhere" in text(response)
    assert user_count(db_session) == 0


def test_a_logged_in_diner_is_sent_on(client, db_session):
    post(client, "/auth/register", GOOD)
    assert client.get("/auth/register").status_code == 302
