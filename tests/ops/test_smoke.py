"""The app answers: the home page lists seeded restaurants, /healthz says it is alive."""

from bellyfed.demo.load import load_demo
from bellyfed.demo.world import DemoSize
from bellyfed.extensions import db
from tests.factories import RestaurantFactory


def test_healthz_answers_without_touching_services(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"


def test_home_lists_seeded_restaurants(client, db_session):
    load_demo(
        db.session.connection().connection.driver_connection, DemoSize(restaurants=25, users=10)
    )
    most_ranked = (
        db_session.execute(
            db.text("SELECT name FROM restaurants ORDER BY ranking_points DESC, id DESC LIMIT 3")
        )
        .scalars()
        .all()
    )
    response = client.get("/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    for name in most_ranked:
        assert name.replace("'", "&#39;") in page
    assert "Kuala Lumpur" in page


def test_home_narrows_to_a_city(client, db_session):
    inside = RestaurantFactory(name="Inside Stall")
    RestaurantFactory(name="Elsewhere Stall")
    page = client.get(f"/?city={inside.city.slug}").get_data(as_text=True)
    assert "Inside Stall" in page
    assert "Elsewhere Stall" not in page


def test_unknown_city_is_a_clear_404(client, db_session):
    response = client.get("/?city=atlantis")
    assert response.status_code == 404
    assert "We don't know a city called “atlantis”" in response.get_data(as_text=True)


def test_empty_database_says_how_to_load_demo_data(client, db_session):
    page = client.get("/").get_data(as_text=True)
    assert "flask demo load" in page


def test_markup_in_names_is_escaped(client, db_session):
    RestaurantFactory(name="<script>alert(1)</script>")
    page = client.get("/").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;" in page
