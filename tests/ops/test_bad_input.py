"""Inputs found in review that used to reach PostgreSQL and fail there: now clear 4xx."""

import pytest

from tests.factories import ReviewFactory, UserFactory
from tests.web import log_in, post, text


@pytest.mark.parametrize(
    "url",
    ["/search?q=%00abc", "/search?city=%00", "/restaurants/%00", "/users/%00", "/dishes/%00",
     "/dishes/nasi-lemak/%00"],
)  # fmt: skip
def test_a_nul_byte_anywhere_is_a_400(client, url):
    response = client.get(url)
    assert response.status_code == 400
    assert "NUL" in text(response)


def test_a_nul_byte_in_a_form_is_a_400_and_nothing_is_written(browser, db_session):
    review = ReviewFactory()
    user = UserFactory()
    log_in(browser, user.username)
    response = post(browser, f"/reviews/{review.id}/comments", {"body": "hi\x00there"})
    assert response.status_code == 400
    assert review.comments == []


@pytest.mark.parametrize(
    ("method", "url"),
    [("get", "/photos/99999999999999999999"), ("get", "/photos/99999999999999999999/thumb"),
     ("post", "/dishes/99999999999999999999/vote"), ("get", "/dishes/99999999999999999999/ranking")],
)  # fmt: skip
def test_ids_beyond_bigint_are_not_found(client, method, url):
    assert getattr(client, method)(url).status_code == 404
