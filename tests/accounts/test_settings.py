"""The account page: login required, profile and preferences saved, bad input explained."""

from urllib.parse import parse_qs, urlsplit

import pytest

from bellyfed.accounts.models import UserPreferences
from tests.accounts.support import save_settings
from tests.factories import CityFactory, CuisineFactory, UserFactory, UserPreferencesFactory
from tests.web import csrf_token, text


def test_the_page_needs_a_login_and_comes_back_after_it(client):
    UserFactory(username="siti")
    response = client.get("/account")
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/login?next=/account"
    assert "Please log in to see that page." in text(client.get(response.headers["Location"]))

    response = client.post(
        "/auth/login?next=%2Faccount",
        data={
            "csrf_token": csrf_token(client),
            "identifier": "siti",
            "password": "correct horse battery staple",
        },
    )
    assert response.headers["Location"] == "/account"


def next_of(login_url: str) -> str:
    parts = urlsplit(login_url)
    assert parts.path == "/auth/login"
    return parse_qs(parts.query)["next"][0]


def test_htmx_is_sent_to_log_in_and_back_to_the_page_it_was_on(client):
    response = client.get(
        "/account",
        headers={"HX-Request": "true", "HX-Current-URL": "http://localhost/search?q=laksa"},
    )
    assert response.status_code == 401
    assert next_of(response.headers["HX-Redirect"]) == "/search?q=laksa"


def test_a_form_post_returns_to_the_page_the_form_was_on(client):
    token = csrf_token(client)
    for referrer, expected in [
        ("http://localhost/restaurants/kedai-laksa", "/restaurants/kedai-laksa"),
        ("https://evil.example/phish", None),
    ]:
        response = client.post(
            "/account", data={"csrf_token": token}, headers={"Referer": referrer}
        )
        assert response.status_code == 302
        location = urlsplit(response.headers["Location"])
        assert location.path == "/auth/login"
        assert parse_qs(location.query).get("next", [None])[0] == expected


def test_the_page_shows_both_forms_filled_in(client, diner):
    page = text(client.get("/account"))
    assert '<label for="profile-display_name">Display name</label>' in page
    assert 'value="Siti"' in page
    assert "Hawker fan</textarea>" in page
    assert '<label for="preferences-price_min">Cheapest</label>' in page
    assert page.count('name="section"') == 2


def test_saving_the_profile(client, db_session, diner):
    city = CityFactory(name="Kuala Lumpur")

    response = save_settings(
        client,
        "profile",
        {"display_name": " Siti L. ", "bio": "Laksa first.", "home_city_id": str(city.id)},
    )

    assert response.status_code == 302
    assert response.headers["Location"] == "/account"
    db_session.refresh(diner)
    assert (diner.display_name, diner.bio, diner.home_city_id) == (
        "Siti L.",
        "Laksa first.",
        city.id,
    )
    page = text(client.get("/account"))
    assert "Your profile is saved." in page
    assert f'<option selected value="{city.id}">Kuala Lumpur</option>' in page


def test_clearing_the_home_city(client, db_session, diner):
    diner.home_city = CityFactory()
    db_session.flush()
    save_settings(client, "profile", {"display_name": "Siti", "bio": "", "home_city_id": ""})
    db_session.refresh(diner)
    assert diner.home_city_id is None
    assert diner.bio == ""


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"display_name": "  "}, "Tell us what to call you."),
        ({"display_name": "x" * 61}, "Keep your display name to 60 characters."),
        ({"bio": "x" * 2001}, "Keep your bio to 2000 characters."),
        ({"home_city_id": "999999999"}, "Pick a city from the list."),
        ({"home_city_id": "kl"}, "Pick a city from the list."),
    ],
)
def test_bad_profile_input_is_explained_and_changes_nothing(
    client, db_session, diner, fields, message
):
    response = save_settings(
        client, "profile", {"display_name": "New Name", "bio": "New bio", **fields}
    )

    assert response.status_code == 200
    assert message in text(response)
    db_session.refresh(diner)
    assert (diner.display_name, diner.bio) == ("Siti", "Hawker fan")


def test_saving_preferences(client, db_session, diner):
    malay, mamak = CuisineFactory(name="Malay"), CuisineFactory(name="Mamak")
    CuisineFactory(name="Peranakan")

    response = save_settings(
        client,
        "preferences",
        {
            "favourite_cuisines": [str(malay.id), str(mamak.id)],
            "dietary_needs": ["vegetarian", "halal"],
            "price_min": "1",
            "price_max": "3",
        },
    )

    assert response.status_code == 302
    prefs = db_session.get(UserPreferences, diner.id)
    db_session.refresh(prefs)
    assert [c.name for c in prefs.favourite_cuisines] == ["Malay", "Mamak"]
    assert prefs.dietary_needs == ["halal", "vegetarian"]
    assert (prefs.price_min, prefs.price_max) == (1, 3)
    page = text(client.get("/account"))
    assert "Your preferences are saved." in page
    assert page.count("<input checked") == 4
    assert (
        f'<input checked id="preferences-favourite_cuisines-0" name="preferences-favourite_cuisines" type="checkbox" value="{malay.id}">'
        in page
    )
    assert '<option selected value="3">$$$</option>' in page


def test_unticking_everything_clears_preferences(client, db_session, diner):
    UserPreferencesFactory(
        user=diner, dietary_needs=["halal"], favourite_cuisines=[CuisineFactory()]
    )
    save_settings(client, "preferences", {"price_min": "", "price_max": ""})
    prefs = db_session.get(UserPreferences, diner.id)
    db_session.refresh(prefs)
    assert (prefs.favourite_cuisines, prefs.dietary_needs, prefs.price_min, prefs.price_max) == (
        [],
        [],
        None,
        None,
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"price_min": "4", "price_max": "1"},
            "The priciest level can&#39;t be below the cheapest.",
        ),
        ({"price_min": "7"}, "Pick a price level from the list."),
        ({"price_max": "$$"}, "Pick a price level from the list."),
        ({"dietary_needs": ["halal", "paleo"]}, "Pick dietary needs from the list."),
        ({"favourite_cuisines": ["999999999"]}, "Pick cuisines from the list."),
        ({"favourite_cuisines": ["malay"]}, "Pick cuisines from the list."),
    ],
)
def test_bad_preferences_are_explained_and_change_nothing(
    client, db_session, diner, fields, message
):
    response = save_settings(client, "preferences", fields)

    assert response.status_code == 200
    page = text(response)
    assert message in page
    assert db_session.get(UserPreferences, diner.id) is None
    assert 'value="Siti"' in page, "the profile form still shows what is stored"


def test_an_unknown_section_is_a_clear_400(client, diner):
    response = client.post(
        "/account", data={"section": "password", "csrf_token": csrf_token(client, "/account")}
    )
    assert response.status_code == 400
    assert "We couldn&#39;t tell which form you sent." in text(response)


def test_a_post_without_the_csrf_token_is_refused(client, db_session, diner):
    response = client.post(
        "/account", data={"section": "profile", "profile-display_name": "Hacked"}
    )
    assert response.status_code == 400
    db_session.refresh(diner)
    assert diner.display_name == "Siti"
