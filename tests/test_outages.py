"""A database that is down (or a statement over its limit) is a 503 that says so, never a 500."""

from __future__ import annotations

from tests.conftest import free_port, make_test_app
from tests.web import BrowserClient


def test_postgresql_down_is_a_503_on_pages_and_the_api(aws_endpoint, redis_client):
    app = make_test_app(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/gone", aws_endpoint)
    client = BrowserClient(app, app.response_class, use_cookies=False)
    page = client.get("/search?q=laksa")
    assert page.status_code == 503
    assert "database is briefly unavailable" in page.get_data(as_text=True)
    assert page.headers["Retry-After"] == "60"
    api = client.get("/api/v1/restaurants?q=laksa")
    assert api.status_code == 503
    assert api.content_type == "application/problem+json"
    assert "database is briefly unavailable" in api.get_json()["detail"]
    assert api.headers["Retry-After"] == "60"


def test_a_nul_byte_in_any_repeated_argument_is_a_400(client):
    for url in ("/search?cuisine=a&cuisine=b%00", "/api/v1/restaurants?cuisine=a&cuisine=b%00",
                "/search?a%00=1"):  # fmt: skip
        assert client.get(url).status_code == 400, url
