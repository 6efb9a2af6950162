"""Rate limits per token and per address, with the headers, on Redis."""

from __future__ import annotations

import pytest

from tests.api.conftest import problem
from tests.factories import UserFactory


@pytest.fixture
def tight_limits(app, monkeypatch, redis_client):
    monkeypatch.setitem(app.config, "API_RATE_LIMIT_ANONYMOUS", "3 per minute")
    monkeypatch.setitem(app.config, "API_RATE_LIMIT_TOKEN", "5 per minute")
    monkeypatch.setitem(app.config, "API_RATE_LIMIT_ADDRESS", "8 per minute")


def test_anonymous_calls_are_limited_per_address_with_headers(api, tight_limits):
    responses = [api.get("/api/v1/restaurants") for _ in range(4)]
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert responses[0].headers["X-RateLimit-Limit"] == "3"
    assert responses[1].headers["X-RateLimit-Remaining"] == "1"
    assert int(responses[0].headers["X-RateLimit-Reset"]) > 0
    refused = responses[3]
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert "3 per 1 minute" in problem(refused)["detail"]
    other_address = api.get("/api/v1/restaurants", environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert other_address.status_code == 200


def test_the_allowance_is_shared_across_resources_and_the_documents(api, tight_limits):
    urls = ["/api/v1/restaurants", "/api/v1/dish-types", "/api/v1/openapi.json", "/api/v1/docs"]
    assert [api.get(url).status_code for url in urls] == [200, 200, 200, 429]


def test_ipv6_clients_are_counted_by_their_64(api, tight_limits):
    statuses = [
        api.get(
            "/api/v1/restaurants", environ_base={"REMOTE_ADDR": f"2001:db8:1:2::{n}"}
        ).status_code
        for n in range(4)
    ]
    assert statuses == [200, 200, 200, 429]
    other = api.get("/api/v1/restaurants", environ_base={"REMOTE_ADDR": "2001:db8:1:3::1"})
    assert other.status_code == 200


def test_each_token_has_its_own_allowance(api, token_for, tight_limits):
    first, second = token_for(UserFactory()), token_for(UserFactory())
    statuses = [api.get("/api/v1/restaurants", headers=first).status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]
    assert api.get("/api/v1/restaurants", headers=second).status_code == 200


def test_the_address_ceiling_holds_whatever_tokens_are_sent(api, tight_limits):
    statuses = [
        api.get(
            "/api/v1/restaurants", headers={"Authorization": f"Bearer bf_made-up-{n}"}
        ).status_code
        for n in range(9)
    ]
    assert statuses[:8] == [401] * 8  # counted, and refused for the unknown token
    assert statuses[8] == 429


def test_redis_down_lifts_the_limits_instead_of_failing(database_url, aws_endpoint, db_session):
    from tests.conftest import free_port, make_test_app
    from tests.web import BrowserClient

    app = make_test_app(
        database_url, aws_endpoint, REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",
        API_RATE_LIMIT_ANONYMOUS="3 per minute",
    )  # fmt: skip
    api = BrowserClient(app, app.response_class, use_cookies=False)
    assert [api.get("/api/v1/restaurants").status_code for _ in range(5)] == [200] * 5
