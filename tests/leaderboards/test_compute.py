"""Recomputing leaderboards from real rankings in PostgreSQL."""

from datetime import UTC, datetime

from sqlalchemy import text

from bellyfed.extensions import db
from bellyfed.leaderboards.compute import (
    boards_for_dishes,
    recompute_all,
    recompute_board,
    recompute_boards,
)
from bellyfed.leaderboards.queries import board
from tests.factories import DishTypeFactory, RankingFactory, UserFactory
from tests.leaderboards.boards import dish, entries, rank


def test_a_board_ranks_its_dishes_by_bayesian_score(kl, nasi_lemak):
    lone, crowd, middling = (dish(nasi_lemak, kl) for _ in range(3))
    rank(lone, 1)  # (15 + 5) / 6 = 3.33
    rank(crowd, 1, 1, 1, 1, 2, 2)  # (15 + 28) / 11 = 3.91
    rank(middling, 3, 3)  # (15 + 6) / 7 = 3.00

    assert recompute_board(nasi_lemak.id, kl.id) == 3

    assert entries(nasi_lemak, kl) == [
        (crowd.id, 1, 6, 28, 4),
        (lone.id, 2, 1, 5, 1),
        (middling.id, 3, 2, 6, 0),
    ]
    rows = board(nasi_lemak, kl)
    assert [round(row.entry.score, 2) for row in rows] == [3.91, 3.33, 3.0]
    assert rows[0].why.startswith("Ranked by 6 diners, 4 put it #1 · 4.7 of 5 points")
    assert rows[1].why.endswith("(few votes yet, so held near the middle)")


def test_only_this_city_this_dish_type_and_ranked_positions_count(kl, penang, nasi_lemak):
    here = dish(nasi_lemak, kl)
    elsewhere = dish(nasi_lemak, penang)
    other_kind = dish(DishTypeFactory(), kl)
    only_marked = dish(nasi_lemak, kl)
    rank(here, 2)
    rank(elsewhere, 1, 1)
    rank(other_kind, 1)
    for status in ("acceptable", "second_chance", "dissatisfied"):
        RankingFactory(user_id=UserFactory().id, dish_id=here.id, position=None,
                       taste_status=status)  # fmt: skip
        RankingFactory(user_id=UserFactory().id, dish_id=only_marked.id, position=None,
                       taste_status=status)  # fmt: skip

    assert recompute_board(nasi_lemak.id, kl.id) == 1

    assert entries(nasi_lemak, kl) == [(here.id, 1, 1, 4, 0)]
    assert entries(nasi_lemak, penang) == []  # not recomputed yet


def test_dishes_of_closed_restaurants_leave_the_board(kl, nasi_lemak):
    open_dish, closed_dish = dish(nasi_lemak, kl), dish(nasi_lemak, kl)
    rank(open_dish, 3)
    rank(closed_dish, 1)
    recompute_board(nasi_lemak.id, kl.id)
    closed_dish.restaurant.is_active = False
    db.session.flush()

    recompute_board(nasi_lemak.id, kl.id)

    assert entries(nasi_lemak, kl) == [(open_dish.id, 1, 1, 3, 0)]


def test_a_recompute_follows_changes_and_leaves_other_boards_alone(kl, penang, nasi_lemak):
    falling, rising = dish(nasi_lemak, kl), dish(nasi_lemak, kl)
    rank(falling, 1)
    rank(rising, 4)
    untouched = dish(nasi_lemak, penang)
    rank(untouched, 2)
    recompute_boards([(nasi_lemak.id, kl.id), (nasi_lemak.id, penang.id)])
    penang_before = entries(nasi_lemak, penang)

    db.session.execute(text("DELETE FROM rankings WHERE dish_id = :id"), {"id": falling.id})
    rank(rising, 1, 1)
    rank(untouched, 1)  # changed, but its board is not recomputed
    recompute_board(nasi_lemak.id, kl.id)

    assert entries(nasi_lemak, kl) == [(rising.id, 1, 3, 12, 2)]
    assert entries(nasi_lemak, penang) == penang_before


def test_only_entries_whose_numbers_changed_are_rewritten(kl, nasi_lemak):
    steady, moving = dish(nasi_lemak, kl), dish(nasi_lemak, kl)
    rank(steady, 1, 1)
    rank(moving, 5)
    recompute_board(nasi_lemak.id, kl.id)
    long_ago = datetime(2020, 1, 1, tzinfo=UTC)
    db.session.execute(text("UPDATE leaderboard_entries SET computed_at = :t"), {"t": long_ago})

    rank(moving, 2)
    recompute_board(nasi_lemak.id, kl.id)

    stamps = dict(
        db.session.execute(text("SELECT dish_id, computed_at FROM leaderboard_entries")).all()
    )
    assert stamps[steady.id] == long_ago
    assert stamps[moving.id] > long_ago


def test_recompute_all_equals_recomputing_every_board(kl, penang, nasi_lemak):
    laksa = DishTypeFactory(slug="curry-laksa", name="Curry Laksa")
    dishes = [dish(kind, city) for kind in (nasi_lemak, laksa) for city in (kl, penang)
              for _ in range(3)]  # fmt: skip
    for n, ranked in enumerate(dishes):
        rank(ranked, *[1 + (n + k) % 5 for k in range(1 + n % 4)])
    dropped = dish(laksa, kl)
    rank(dropped, 1)
    recompute_board(laksa.id, kl.id)
    db.session.execute(text("DELETE FROM rankings WHERE dish_id = :id"), {"id": dropped.id})

    assert recompute_all() == len(dishes)
    everything = entries()
    assert dropped.id not in {row[2] for row in everything}

    db.session.execute(text("DELETE FROM leaderboard_entries"))
    boards = [(kind.id, city.id) for kind in (nasi_lemak, laksa) for city in (kl, penang)]
    assert recompute_boards(boards) == len(dishes)
    assert entries() == everything
    assert recompute_all() == len(dishes)
    assert entries() == everything


def test_recompute_all_with_no_rankings_empties_the_boards(kl, nasi_lemak):
    gone = dish(nasi_lemak, kl)
    rank(gone, 1)
    recompute_all()
    db.session.execute(text("DELETE FROM rankings"))

    assert recompute_all() == 0
    assert entries() == []


def test_boards_for_dishes_names_current_and_stale_boards(kl, penang, nasi_lemak):
    moved, stays = dish(nasi_lemak, kl), dish(nasi_lemak, penang)
    untyped = dish(None, kl)
    rank(moved, 1)
    recompute_board(nasi_lemak.id, kl.id)
    moved.restaurant.city = penang
    db.session.flush()

    assert boards_for_dishes([moved.id]) == {(nasi_lemak.id, kl.id), (nasi_lemak.id, penang.id)}
    assert boards_for_dishes([stays.id, stays.id, untyped.id]) == {(nasi_lemak.id, penang.id)}
    assert boards_for_dishes([]) == set()


def test_the_cli_recomputes_every_board(app, kl, nasi_lemak):
    rank(dish(nasi_lemak, kl), 1)
    rank(dish(nasi_lemak, kl), 2)

    result = app.test_cli_runner().invoke(args=["leaderboards", "recompute"])

    assert result.exit_code == 0, result.output
    assert "Recomputed 2 leaderboard entries" in result.output
    assert len(entries(nasi_lemak, kl)) == 2
