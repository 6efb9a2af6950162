"""A diner's whole journey in headless Chromium, on a desktop and a phone-sized screen:
register, search with filters, open a restaurant, rank two dishes of one type and reorder them,
vote, review with a photo, see the leaderboard change, log out."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

import redis
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveServer, shot
from tests.conftest import TEST_REDIS_URL
from tests.leaderboards.boards import run_queued_recomputes
from tests.photos.images import plain_jpeg

PASSWORD = "a sambal-hot passphrase"


@dataclass
class Target:
    restaurant_slug: str
    restaurant_name: str
    city_slug: str
    type_slug: str
    type_id: int
    dish_a: tuple[int, str]
    dish_b: tuple[int, str]


def pick_target(database_url: str) -> Target:
    """A restaurant with two dishes of one dish type (so both can enter one top-5)."""
    engine = sa.create_engine(database_url)
    with engine.connect() as conn:
        row = conn.execute(sa.text("""
            SELECT r.slug, r.name, c.slug, t.slug, t.id, array_agg(d.id ORDER BY d.id), array_agg(d.name ORDER BY d.id)
            FROM dishes d JOIN restaurants r ON r.id = d.restaurant_id JOIN cities c ON c.id = r.city_id
            JOIN dish_types t ON t.id = d.dish_type_id
            GROUP BY r.id, c.slug, t.slug, t.id HAVING count(*) >= 2 ORDER BY r.id LIMIT 1
        """)).one()  # fmt: skip
    engine.dispose()
    slug, name, city, type_slug, type_id, ids, names = row
    return Target(slug, name, city, type_slug, type_id, (ids[0], names[0]), (ids[1], names[1]))


def board_diners(page: Page, server: LiveServer, target: Target, dish_name: str) -> int:
    page.goto(f"{server.url}/dishes/{target.type_slug}/{target.city_slug}")
    exact_name = page.locator(".dish-name", has_text=re.compile(f"^{re.escape(dish_name)}$"))
    row = page.locator("tr").filter(has=exact_name).filter(has_text=target.restaurant_name)
    if row.count() == 0:
        return 0
    return int(row.first.locator("td.num").first.inner_text().replace(",", ""))


def rank(page: Page, dish: tuple[int, str], position: str, photo: str) -> None:
    card = page.locator(f"#dish-{dish[0]}")
    card.locator("summary").click()
    card.locator("select[name=choice]").select_option(position)
    card.locator("textarea[name=notes]").fill(f"{dish[1]}: fragrant rice, proper sambal")
    card.locator("input[name=photo]").set_input_files(photo)
    card.get_by_role("button", name="Save my verdict").click()
    expect(page.locator(".flash-success")).to_contain_text(f"is #{position} in your")


def test_a_diner_journey(page: Page, live_server: LiveServer, tmp_path) -> None:
    target = pick_target(live_server.database_url)
    photo = tmp_path / "plate.jpg"
    photo.write_bytes(plain_jpeg((800, 600)))
    base = live_server.url
    diners_before = board_diners(page, live_server, target, target.dish_a[1])

    # Register (and be signed in).
    username = f"diner_{uuid.uuid4().hex[:8]}"
    page.goto(f"{base}/auth/register")
    page.fill("#username", username)
    page.fill("#email", f"{username}@example.com")
    page.fill("#display_name", "Journey Diner")
    page.fill("#password", PASSWORD)
    page.fill("#confirm", PASSWORD)
    page.get_by_role("button", name=re.compile("Create|Sign up|Register", re.I)).click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    shot(page, "01-registered")

    # Search: choosing a city and typing update the results in place, and the URL.
    page.goto(f"{base}/search")
    page.get_by_text("Filters and sorting").click()
    page.select_option("#city", target.city_slug)
    page.locator("#q").fill(target.restaurant_name)
    results = page.locator("#results")
    expect(results).to_contain_text(f"Results for “{target.restaurant_name}”")
    expect(page).to_have_url(re.compile(r"[?&]q="))
    shot(page, "02-search")
    results.get_by_role("link", name=target.restaurant_name).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(target.restaurant_name)
    shot(page, "03-restaurant")

    # Rank two dishes of one type; the second at #1 pushes the first to #2.
    rank(page, target.dish_a, "1", str(photo))
    rank(page, target.dish_b, "1", str(photo))
    page.goto(f"{base}/me/rankings")
    items = page.locator(f"#type-{target.type_id} .top5-item")
    expect(items.nth(0)).to_contain_text(target.dish_b[1])
    expect(items.nth(1)).to_contain_text(target.dish_a[1])
    # Reorder in place (HTMX): move the first dish back up.
    page.get_by_role("button", name=f"Move up: {target.dish_a[1]}", exact=True).click()
    expect(items.nth(0)).to_contain_text(target.dish_a[1])
    shot(page, "04-my-rankings")

    # Vote: like a dish; the button and its count change in place.
    page.goto(f"{base}/restaurants/{target.restaurant_slug}")
    like = page.locator(f"#dish-vote-{target.dish_a[0]} button").first
    expect(like).to_have_attribute("aria-pressed", "false")
    like.click()
    expect(page.locator(f"#dish-vote-{target.dish_a[0]} button").first).to_have_attribute(
        "aria-pressed", "true"
    )

    # Review with a photo; the thumbnail really loads.
    page.get_by_role("link", name="Write a review").click()
    page.check("input[name=rating][value='5']")
    page.fill("#title", "Queue-worthy")
    page.fill("#body", "Crispy anchovies and a sambal with a slow burn.")
    page.set_input_files("#new_photos", str(photo))
    page.get_by_role("button", name="Post review").click()
    expect(page.locator(".flash-success")).to_contain_text("Your review is up")
    review = page.locator("article.review", has_text="Queue-worthy")
    image = review.locator("img").first
    expect(image).to_be_visible()
    image.scroll_into_view_if_needed()  # thumbnails load lazily
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=image.element_handle()
    )
    shot(page, "05-reviewed")

    # The city leaderboard counts this diner once the worker has recomputed the board.
    with redis.Redis.from_url(TEST_REDIS_URL) as broker:
        run_queued_recomputes(live_server.app, broker)
    assert board_diners(page, live_server, target, target.dish_a[1]) == diners_before + 1
    shot(page, "06-leaderboard")

    # Log out.
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("link", name="Log in")).to_be_visible()
