"""One vote per user and item, with a closed set of values."""

import pytest

from tests.factories import DishVoteFactory, ReviewVoteFactory
from tests.helpers import violates


def test_a_second_vote_by_the_same_user_on_a_dish_is_refused(db_session):
    vote = DishVoteFactory(value=1)
    with violates("uq_dish_votes_user_id_dish_id"):
        DishVoteFactory(user_id=vote.user_id, dish_id=vote.dish_id, value=-1)


def test_a_second_helpful_vote_by_the_same_user_on_a_review_is_refused(db_session):
    vote = ReviewVoteFactory()
    with violates("uq_review_votes_user_id_review_id"):
        ReviewVoteFactory(user_id=vote.user_id, review_id=vote.review_id)


def test_a_vote_can_be_changed_in_place(db_session):
    vote = DishVoteFactory(value=1)
    vote.value = -1
    db_session.flush()
    db_session.refresh(vote)
    assert vote.value == -1


@pytest.mark.parametrize("value", [0, 2, -2])
def test_vote_values_are_plus_or_minus_one(db_session, value):
    with violates("ck_dish_votes_value_known"):
        DishVoteFactory(value=value)
    with violates("ck_review_votes_value_known"):
        ReviewVoteFactory(value=value)
