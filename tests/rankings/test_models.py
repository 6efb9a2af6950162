"""The ranking rules the database itself enforces."""

import pytest
from sqlalchemy import delete, select, text, update

from bellyfed.rankings.models import Ranking
from tests.factories import DishFactory, DishTypeFactory, RankingFactory, UserFactory
from tests.helpers import violates


@pytest.fixture
def five_ranked(db_session):
    """A user with a full top-5 for one dish type, plus a sixth dish of that type."""
    user, dish_type = UserFactory(), DishTypeFactory()
    dishes = DishFactory.create_batch(6, dish_type=dish_type)
    for position, dish in enumerate(dishes[:5], start=1):
        RankingFactory(user_id=user.id, dish_id=dish.id, position=position)
    return user, dish_type, dishes


def test_a_sixth_ranked_position_is_refused(five_ranked):
    user, _, dishes = five_ranked
    with violates("ck_rankings_position_range"):
        RankingFactory(user_id=user.id, dish_id=dishes[5].id, position=6)


@pytest.mark.parametrize("position", [0, -1, 6, 32767])
def test_positions_outside_one_to_five_are_refused(db_session, position):
    with violates("ck_rankings_position_range"):
        RankingFactory(position=position)


def test_a_taken_position_is_refused(five_ranked):
    user, _, dishes = five_ranked
    with violates("uq_rankings_user_id_dish_type_id_position"):
        RankingFactory(user_id=user.id, dish_id=dishes[5].id, position=1)


def test_the_same_position_in_another_dish_type_is_fine(five_ranked, db_session):
    user, _, _ = five_ranked
    ranking = RankingFactory(user_id=user.id, position=1)
    assert ranking.id is not None


def test_a_rank_together_with_a_taste_status_is_refused(db_session):
    with violates("ck_rankings_position_xor_taste_status"):
        RankingFactory(position=2, taste_status="acceptable")


def test_neither_rank_nor_taste_status_is_refused(db_session):
    with violates("ck_rankings_position_xor_taste_status"):
        RankingFactory(position=None, taste_status=None)


def test_taste_status_alone_is_accepted_and_does_not_take_a_position(five_ranked, db_session):
    user, _, dishes = five_ranked
    marked = RankingFactory(
        user_id=user.id, dish_id=dishes[5].id, position=None, taste_status="second_chance"
    )
    assert marked.position is None


def test_unknown_taste_status_is_refused(db_session):
    with violates("ck_rankings_taste_status_known"):
        RankingFactory(position=None, taste_status="meh")


def test_one_ranking_per_user_and_dish(db_session):
    first = RankingFactory(position=1)
    with violates("uq_rankings_user_id_dish_id"):
        RankingFactory(user_id=first.user_id, dish_id=first.dish_id, position=2)


def test_ranking_dish_type_must_be_the_dishes_own(db_session):
    dish, other_type = DishFactory(), DishTypeFactory()
    with violates("fk_rankings_dish_id_dish_type_id_dishes"):
        RankingFactory(dish_id=dish.id, dish_type_id=other_type.id)


def test_placing_at_a_taken_position_shifts_the_rest_in_one_statement(five_ranked, db_session):
    """The unique position is checked at the end of the statement (deferrable), not per row."""
    user, dish_type, dishes = five_ranked
    mine = (Ranking.user_id == user.id, Ranking.dish_type_id == dish_type.id)
    db_session.execute(delete(Ranking).where(*mine, Ranking.position == 5))
    db_session.execute(
        update(Ranking)
        .where(*mine, Ranking.position >= 2)
        .values(position=Ranking.position + 1)
        .execution_options(synchronize_session=False)
    )
    RankingFactory(user_id=user.id, dish_id=dishes[5].id, position=2)
    order = db_session.scalars(
        select(Ranking.dish_id).where(*mine).order_by(Ranking.position)
    ).all()
    assert order == [dishes[0].id, dishes[5].id, dishes[1].id, dishes[2].id, dishes[3].id]


def test_changing_a_dishes_type_carries_its_rankings_along(db_session):
    ranking = RankingFactory(position=1)
    new_type = DishTypeFactory()
    db_session.execute(
        text("UPDATE dishes SET dish_type_id = :t WHERE id = :d"),
        {"t": new_type.id, "d": ranking.dish_id},
    )
    db_session.expire_all()
    assert db_session.get(Ranking, ranking.id).dish_type_id == new_type.id


def test_deleting_the_user_deletes_their_rankings(db_session):
    ranking = RankingFactory(position=1)
    db_session.execute(text("DELETE FROM users WHERE id = :u"), {"u": ranking.user_id})
    assert db_session.scalar(select(Ranking).where(Ranking.id == ranking.id)) is None


def test_ranking_history_actions_are_a_closed_list(db_session):
    from tests.factories import RankingHistoryFactory

    assert RankingHistoryFactory(action="dropped", old_position=5, new_position=None).id
    with violates("ck_ranking_history_action_known"):
        RankingHistoryFactory(action="teleported")
