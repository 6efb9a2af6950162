"""The leaderboard pages: /dishes, /dishes/<type>, /dishes/<type>/<city>."""

import re
from html import unescape

import pytest
from jinja2 import ChoiceLoader, DictLoader

from bellyfed.extensions import db
from bellyfed.leaderboards import views
from bellyfed.leaderboards.compute import recompute_all
from tests.factories import (
    CityFactory,
    DishTypeFactory,
    RankingFactory,
    RestaurantFactory,
    UserFactory,
)
from tests.leaderboards.boards import dish, rank, top5
from tests.web import count_statements, log_in


@pytest.fixture
def town(db_session):
    """Nasi lemak boards in Kuala Lumpur (four dishes) and Penang (one); Ipoh has none.

    Kuala Lumpur's scores: Royale 34/9, Wanjo 28/8, Tanglin 27/8, Antarabangsa 20/6.
    """
    kl = CityFactory(slug="kuala-lumpur", name="Kuala Lumpur")
    penang = CityFactory(slug="penang", name="Penang")
    CityFactory(slug="ipoh", name="Ipoh")
    nasi = DishTypeFactory(
        slug="nasi-lemak", name="Nasi Lemak", description="Coconut rice, sambal, ikan bilis."
    )
    DishTypeFactory(slug="apam-balik", name="Apam Balik")
    village = RestaurantFactory(city=kl, slug="village-park", name="Village Park")
    royale = dish(nasi, kl, village, name="Nasi Lemak Royale", price_minor=1450)
    wanjo = dish(nasi, kl, name="Nasi Lemak Wanjo", price_minor=900)
    tanglin = dish(nasi, kl, name="Nasi Lemak Tanglin", price_minor=1100)
    antarabangsa = dish(nasi, kl, name="Nasi Lemak Antarabangsa", price_minor=1000)
    georgetown = dish(nasi, penang, name="Nasi Lemak Georgetown", price_minor=800)
    top5(royale, wanjo, tanglin)
    top5(royale, tanglin)
    top5(royale, wanjo)
    top5(wanjo, royale)
    top5(tanglin)
    top5(antarabangsa)
    top5(georgetown)
    recompute_all()
    return {"royale": royale, "wanjo": wanjo, "tanglin": tanglin,
            "antarabangsa": antarabangsa, "georgetown": georgetown}  # fmt: skip


def page(client, url, status=200, **headers):
    response = client.get(url, headers=headers)
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


def in_order(text, *needles):
    positions = [text.index(needle) for needle in needles]
    return positions == sorted(positions)


def test_index_lists_every_dish_type_with_its_diners(client, town):
    html = page(client, "/dishes")
    assert 'href="/dishes/nasi-lemak"' in html
    assert "Ranked by 7 diners in 2 cities" in html
    assert "No rankings yet" in html
    assert in_order(html, "Nasi Lemak", "Apam Balik")


def test_a_dish_type_shows_each_city_top_three(client, town):
    html = page(client, "/dishes/nasi-lemak")
    assert "<h1>Best Nasi Lemak</h1>" in html
    assert "Coconut rice, sambal, ikan bilis." in html
    kl, penang = html.index("Kuala Lumpur</h2>"), html.index("Penang</h2>")
    assert in_order(html[kl:penang], "Nasi Lemak Royale", "Nasi Lemak Wanjo", "Nasi Lemak Tanglin")
    assert "Nasi Lemak Antarabangsa" not in html  # fourth in Kuala Lumpur
    assert "Nasi Lemak Georgetown" in html[penang:]
    assert 'href="/dishes/nasi-lemak/kuala-lumpur"' in html
    assert "Full board: all 4 dishes in Kuala Lumpur" in html
    assert 'href="/restaurants/village-park"' in html
    assert "How this is scored" in html


def test_a_city_board_shows_the_whole_order_with_numbers_and_reasons(client, town):
    html = page(client, "/dishes/nasi-lemak/kuala-lumpur")
    assert "<h1>Best Nasi Lemak in Kuala Lumpur</h1>" in html
    assert in_order(html, "Nasi Lemak Royale", "Nasi Lemak Wanjo", "Nasi Lemak Tanglin",
                    "Nasi Lemak Antarabangsa")  # fmt: skip
    rows = re.findall(r"<tr>.*?</tr>", html, re.S)[1:]
    royale = rows[0]
    assert '<th scope="row" class="rank">1</th>' in royale
    assert '<a href="/restaurants/village-park">Village Park</a>' in royale
    assert "RM 14.50" in royale
    assert '<td class="num">4</td>' in royale  # diners
    assert '<td class="num">3.78</td>' in royale  # (15 + 5 + 5 + 5 + 4) / 9
    assert "Ranked by 4 diners, 3 put it #1 · 4.8 of 5 points on average" in royale
    assert "(few votes yet, so held near the middle)" in royale
    assert "<caption" in html
    assert "ranks 1 to 4" in html
    assert 'scope="col"' in html
    assert "How this is scored" in html
    assert "5 imaginary diners who each put it at #3" in html
    assert 'href="/dishes/nasi-lemak/penang"' in html
    assert 'href="/dishes/nasi-lemak/ipoh"' not in html


def test_a_city_without_rankings_says_so(client, town):
    html = page(client, "/dishes/nasi-lemak/ipoh")
    assert "Nobody in Ipoh has put a Nasi Lemak in their top 5 yet." in html


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("/dishes/rendang-pizza", "We don't know a dish called “rendang-pizza”."),
        ("/dishes/rendang-pizza/kuala-lumpur", "We don't know a dish called “rendang-pizza”."),
        ("/dishes/nasi-lemak/atlantis", "We don't know a city called “atlantis”."),
    ],
)
def test_unknown_slugs_are_clear_404s(client, town, url, message):
    assert message in unescape(page(client, url, status=404))


@pytest.mark.parametrize("after", ["-1", "abc", "²", "9999999999"])
def test_a_broken_page_link_is_a_400(client, town, after):
    html = page(client, f"/dishes/nasi-lemak/kuala-lumpur?after={after}", status=400)
    assert "“after” must be a rank number" in html


def test_the_board_pages_and_htmx_gets_only_the_board(client, town, monkeypatch):
    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    first = page(client, "/dishes/nasi-lemak/kuala-lumpur")
    assert "Nasi Lemak Wanjo" in first
    assert "Nasi Lemak Tanglin" not in first
    assert 'href="/dishes/nasi-lemak/kuala-lumpur?after=2"' in first

    response = client.get("/dishes/nasi-lemak/kuala-lumpur?after=2", headers={"HX-Request": "true"})
    fragment = response.get_data(as_text=True)
    assert "HX-Request" in response.headers["Vary"]
    assert "<html" not in fragment
    assert fragment.lstrip().startswith('<section id="board"')
    assert in_order(fragment, "Nasi Lemak Tanglin", "Nasi Lemak Antarabangsa")
    assert "Nasi Lemak Royale" not in fragment
    assert 'href="/dishes/nasi-lemak/kuala-lumpur"' in fragment  # back to the top
    assert "?after=4" not in fragment

    past_the_end = page(client, "/dishes/nasi-lemak/kuala-lumpur?after=40")
    assert "there is nothing after rank 40" in past_the_end


def test_every_row_carries_the_dish_actions_for_its_dish(app, client, town, monkeypatch):
    marker = DictLoader({"dishes/_dish_actions.html": (
        '<i data-actions-for="{{ dish.id }}" data-choices="{{ rank_choices|length }}"></i>'
    )})  # fmt: skip
    monkeypatch.setattr(app.jinja_env, "loader", ChoiceLoader([marker, app.jinja_env.loader]))
    html = page(client, "/dishes/nasi-lemak/kuala-lumpur")
    expected = [town[name].id for name in ("royale", "wanjo", "tanglin", "antarabangsa")]
    assert [int(n) for n in re.findall(r'data-actions-for="(\d+)"', html)] == expected
    assert 'data-choices="0"' not in html  # the card context (rank choices, votes) is there


def test_names_are_escaped(client, town):
    town["royale"].name = "<script>alert(1)</script>"
    db.session.flush()
    html = page(client, "/dishes/nasi-lemak/kuala-lumpur")
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html


def statements_for(client, url):
    with count_statements() as statements:
        page(client, url)
    return len(statements)


def test_pages_take_a_fixed_number_of_statements(client, town):
    # Today: board 5 (dish type, city, the cities' boards, the rows, the cards' vote counts),
    # dish type 3, index 1. Signed in, the board adds 3: the user, their votes, their rankings.
    board_before = statements_for(client, "/dishes/nasi-lemak/kuala-lumpur")
    type_before = statements_for(client, "/dishes/nasi-lemak")
    kl, nasi = town["royale"].restaurant.city, town["royale"].dish_type
    for n in range(12):
        rank(dish(nasi, kl), 1 + n % 5)
        rank(dish(nasi, CityFactory()), 1)
    recompute_all()

    assert statements_for(client, "/dishes/nasi-lemak/kuala-lumpur") == board_before <= 6
    assert statements_for(client, "/dishes/nasi-lemak") == type_before <= 4
    assert statements_for(client, "/dishes") <= 2


def test_a_signed_in_diner_sees_their_verdicts_without_extra_queries(browser, town):
    diner = UserFactory(username="aminah")
    RankingFactory(user_id=diner.id, dish_id=town["wanjo"].id, position=1)
    log_in(browser, "aminah")
    url = "/dishes/nasi-lemak/kuala-lumpur"
    before = statements_for(browser, url)
    kl, nasi = town["royale"].restaurant.city, town["royale"].dish_type
    for n in range(8):
        rank(dish(nasi, kl), 1 + n % 5)
    recompute_all()

    assert statements_for(browser, url) == before <= 9
    html = page(browser, url)
    assert "Your #1" in html
    assert html.count("Save my verdict") == 12
