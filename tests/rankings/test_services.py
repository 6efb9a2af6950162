"""The top-5 rules as the diner meets them: insert, shift, drop, move, mark, remove, history."""

import pytest
from sqlalchemy import select

from bellyfed.leaderboards.models import LeaderboardEntry
from bellyfed.rankings import services
from bellyfed.rankings.models import Ranking, RankingHistory
from bellyfed.restaurants.models import Restaurant
from tests.factories import (
    CityFactory,
    DishFactory,
    DishTypeFactory,
    RestaurantFactory,
    UserFactory,
)
from tests.leaderboards.boards import queued_boards, run_queued_recomputes


@pytest.fixture
def setup(db_session):
    """A diner and seven dishes of one type in one city."""
    city = CityFactory()
    dish_type = DishTypeFactory(name="Nasi Lemak")
    dishes = [
        DishFactory(dish_type=dish_type, restaurant=RestaurantFactory(city=city)) for _ in range(7)
    ]
    return UserFactory(), dish_type, dishes


def top5(user_id, dish_type_id):
    rows = select(Ranking.dish_id, Ranking.position).where(
        Ranking.user_id == user_id,
        Ranking.dish_type_id == dish_type_id,
        Ranking.position.is_not(None),
    )
    return [
        dish_id
        for dish_id, _ in sorted(services.db.session.execute(rows).all(), key=lambda r: r[1])
    ]


def history(user_id):
    return services.db.session.execute(
        select(
            RankingHistory.dish_id,
            RankingHistory.action,
            RankingHistory.old_position,
            RankingHistory.new_position,
        )
        .where(RankingHistory.user_id == user_id)
        .order_by(RankingHistory.id)
    ).all()


def test_placing_at_a_taken_position_moves_the_others_down(setup, db_session):
    user, dish_type, d = setup
    for dish in d[:3]:
        services.place(user.id, dish, 3)  # each new one goes to the next free place (#1, #2, #3)
    assert top5(user.id, dish_type.id) == [d[0].id, d[1].id, d[2].id]
    services.place(user.id, d[3], 1)
    assert top5(user.id, dish_type.id) == [d[3].id, d[0].id, d[1].id, d[2].id]
    moved = [(dish, old, new) for dish, action, old, new in history(user.id) if action == "moved"]
    assert (d[0].id, 1, 2) in moved
    assert (d[2].id, 3, 4) in moved


def test_a_position_past_the_end_is_clamped_to_the_next_free_place(setup, db_session):
    user, _, d = setup
    change = services.place(user.id, d[0], 4)
    assert change.position == 1
    assert change.clamped_from == 4


def test_the_fifth_falls_off_into_history(setup, db_session):
    user, dish_type, d = setup
    for dish in d[:5]:
        services.place(user.id, dish, 5)
    change = services.place(user.id, d[5], 2)
    assert [x.id for x in change.dropped] == [d[4].id]
    assert top5(user.id, dish_type.id) == [d[0].id, d[5].id, d[1].id, d[2].id, d[3].id]
    assert (d[4].id, "dropped", 5, None) in history(user.id)
    assert (
        db_session.scalar(
            select(Ranking).where(Ranking.user_id == user.id, Ranking.dish_id == d[4].id)
        )
        is None
    )


def test_there_is_only_ever_one_number_one(setup, db_session):
    user, _, d = setup
    services.place(user.id, d[0], 1)
    services.place(user.id, d[1], 1)
    firsts = db_session.scalars(
        select(Ranking).where(Ranking.user_id == user.id, Ranking.position == 1)
    ).all()
    assert [r.dish_id for r in firsts] == [d[1].id]


def test_moving_a_ranked_dish_reorders_without_duplicates(setup, db_session):
    user, dish_type, d = setup
    for dish in d[:4]:
        services.place(user.id, dish, 5)
    services.place(user.id, d[3], 1)  # from #4 to #1
    assert top5(user.id, dish_type.id) == [d[3].id, d[0].id, d[1].id, d[2].id]
    ranking = db_session.scalar(
        select(Ranking).where(Ranking.user_id == user.id, Ranking.dish_id == d[0].id)
    )
    services.move(user.id, ranking, +1)
    assert top5(user.id, dish_type.id) == [d[3].id, d[1].id, d[0].id, d[2].id]
    with pytest.raises(services.RankingError, match="can't move further"):
        services.move(user.id, _at(db_session, user, 4), +1)


def _at(db_session, user, position):
    return db_session.scalar(
        select(Ranking).where(Ranking.user_id == user.id, Ranking.position == position)
    )


def test_marking_a_ranked_dish_takes_it_out_and_closes_the_gap(setup, db_session):
    user, dish_type, d = setup
    for dish in d[:3]:
        services.place(user.id, dish, 5)
    services.mark(user.id, d[1], "second_chance", notes="Sambal was off today")
    assert top5(user.id, dish_type.id) == [d[0].id, d[2].id]
    marked = db_session.scalar(
        select(Ranking).where(Ranking.user_id == user.id, Ranking.dish_id == d[1].id)
    )
    assert (marked.position, marked.taste_status, marked.notes) == (
        None,
        "second_chance",
        "Sambal was off today",
    )
    assert (d[1].id, "status_set", 2, None) in history(user.id)


def test_removing_closes_the_gap_and_is_recorded(setup, db_session):
    user, dish_type, d = setup
    for dish in d[:3]:
        services.place(user.id, dish, 5)
    services.remove(user.id, _at(db_session, user, 1))
    assert top5(user.id, dish_type.id) == [d[1].id, d[2].id]
    assert (d[0].id, "removed", 1, None) in history(user.id)


def test_bad_requests_are_refused_with_a_reason(setup, db_session):
    user, _, d = setup
    with pytest.raises(services.RankingError, match="from 1 to 5"):
        services.place(user.id, d[0], 6)
    with pytest.raises(services.RankingError, match="acceptable"):
        services.mark(user.id, d[0], "meh")
    with pytest.raises(services.RankingError, match="isn't a dish type"):
        services.place(user.id, DishFactory(dish_type=None, name="Kopi O"), 1)


def test_restaurant_stats_follow_each_change_and_its_board_follows_the_commit(
    app, setup, db_session, redis_client
):
    user, dish_type, d = setup
    board = (dish_type.id, d[0].restaurant.city_id)
    services.place(user.id, d[0], 1)
    db_session.expire_all()  # the stats are written by a set-based UPDATE, not through the ORM
    assert db_session.get(Restaurant, d[0].restaurant_id).ranking_points == 5
    assert standing(d[0]) is None  # the board is the worker's job, once this commits
    assert queued_boards(redis_client) == []

    db_session.commit()
    assert run_queued_recomputes(app, redis_client) == [board]
    assert standing(d[0]) == (1, 1, 1, 5)

    services.place(user.id, d[1], 1)  # d[0] moves to #2: 4 points
    db_session.commit()
    db_session.expire_all()
    assert db_session.get(Restaurant, d[0].restaurant_id).ranking_points == 4
    assert run_queued_recomputes(app, redis_client) == [board]
    assert standing(d[1]) == (1, 1, 1, 5)
    assert standing(d[0]) == (2, 1, 0, 4)


def test_every_kind_of_change_queues_its_board(setup, db_session, redis_client):
    user, dish_type, d = setup
    board = (dish_type.id, d[0].restaurant.city_id)
    change = services.place(user.id, d[0], 1)
    changes = [
        lambda: services.place(user.id, d[1], 1),
        lambda: services.move(user.id, change.ranking, -1),
        lambda: services.mark(user.id, d[0], "acceptable"),
        lambda: services.remove(user.id, change.ranking),
    ]
    for make in changes:
        db_session.commit()
        assert queued_boards(redis_client) == [board]
        redis_client.flushdb()  # the queue taken and the run done: the next change queues again
        make()
    db_session.commit()
    assert queued_boards(redis_client) == [board]


def standing(dish) -> tuple[int, int, int, int] | None:
    """(rank, rankers, first places, points) of the dish on its board, if it is on one."""
    row = services.db.session.execute(
        select(
            LeaderboardEntry.rank,
            LeaderboardEntry.rankers,
            LeaderboardEntry.first_places,
            LeaderboardEntry.points,
        ).where(LeaderboardEntry.dish_id == dish.id)
    ).one_or_none()
    return None if row is None else tuple(row)
