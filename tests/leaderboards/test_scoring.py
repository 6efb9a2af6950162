"""The scoring module: a Bayesian average of top-5 points, honest about few votes."""

import random

import pytest

from bellyfed.leaderboards.scoring import (
    PRIOR_POINTS,
    PRIOR_RANKERS,
    Tally,
    bayesian_score,
    points_for,
    rank_tallies,
    why_line,
)


def tally(dish_id: int, *positions: int) -> Tally:
    """The tally of one dish that diners placed at these positions."""
    return Tally(
        dish_id=dish_id,
        rankers=len(positions),
        points=sum(points_for(p) for p in positions),
        first_places=positions.count(1),
    )


def order(tallies: list[Tally]) -> list[int]:
    return [scored.tally.dish_id for scored in rank_tallies(tallies)]


def test_points_run_from_five_for_first_to_one_for_fifth():
    assert [points_for(p) for p in range(1, 6)] == [5, 4, 3, 2, 1]


def test_one_first_place_does_not_beat_forty_mostly_first_places():
    lone = tally(1, 1)
    crowd = tally(2, *[1] * 31, *[2] * 9)
    assert order([lone, crowd]) == [2, 1]
    assert bayesian_score(lone.points, lone.rankers) == pytest.approx(20 / 6)
    assert bayesian_score(crowd.points, crowd.rankers) == pytest.approx(206 / 45)


def test_even_forty_second_places_beat_a_single_first_place():
    assert order([tally(1, 1), tally(2, *[2] * 40)]) == [2, 1]


def test_a_dish_nobody_ranked_scores_the_prior():
    assert bayesian_score(0, 0) == PRIOR_POINTS


def test_the_prior_pulls_few_votes_to_the_middle_and_fades_with_many():
    assert bayesian_score(points_for(1), 1) == pytest.approx((PRIOR_POINTS * PRIOR_RANKERS + 5) / 6)
    assert bayesian_score(points_for(5), 1) > points_for(5)  # one #5 is pulled up too
    many = bayesian_score(500 * points_for(1), 500)
    assert 4.95 < many < 5


def test_with_enough_votes_the_higher_average_wins():
    mostly_second = tally(1, *[2] * 30)
    mostly_first = tally(2, *[1] * 25, *[3] * 5)
    assert order([mostly_second, mostly_first]) == [2, 1]


def test_ranks_run_one_to_n_with_the_score_attached():
    ranked = rank_tallies([tally(1, 3), tally(2, 1, 1), tally(3, 2)])
    assert [(s.tally.dish_id, s.rank) for s in ranked] == [(2, 1), (3, 2), (1, 3)]
    assert ranked[0].score == bayesian_score(10, 2)


def test_equal_scores_go_to_more_rankers_then_more_first_places_then_lower_id():
    # (15 + 5) / 6 == (15 + 15) / 9: the same score from one diner and from four.
    one_diner = tally(7, 1)
    four_diners = tally(9, 2, 2, 2, 3)
    assert bayesian_score(one_diner.points, 1) == bayesian_score(four_diners.points, 4)
    assert order([one_diner, four_diners]) == [9, 7]

    more_firsts = tally(5, 1, 3)  # 8 points from two diners, one #1
    no_firsts = tally(3, 2, 2)  # 8 points from two diners, no #1
    assert order([no_firsts, more_firsts]) == [5, 3]

    assert order([tally(8, 2), tally(4, 2), tally(6, 2)]) == [4, 6, 8]


def test_the_order_does_not_depend_on_the_input_order():
    tallies = [tally(n, *[1 + (n * k) % 5 for k in range(1 + n % 7)]) for n in range(1, 60)]
    expected = order(tallies)
    for seed in range(5):
        shuffled = tallies[:]
        random.Random(seed).shuffle(shuffled)
        assert order(shuffled) == expected


def test_an_empty_board_has_no_entries():
    assert rank_tallies([]) == []


def test_the_why_line_gives_the_numbers_behind_the_rank():
    crowd = tally(1, *[1] * 31, *[2] * 11)
    assert why_line(crowd.rankers, crowd.points, crowd.first_places) == (
        "Ranked by 42 diners, 31 put it #1 · 4.7 of 5 points on average"
        " · score 4.55 after adding 5 neutral #3 votes"
    )


def test_the_why_line_says_when_votes_are_few():
    assert why_line(1, points_for(1), 1) == (
        "Ranked by 1 diner, who put it #1 · 5.0 of 5 points on average"
        " · score 3.33 after adding 5 neutral #3 votes (few votes yet, so held near the middle)"
    )
    assert why_line(1, points_for(4), 0).startswith("Ranked by 1 diner, who put it #4 · 2.0")
    assert why_line(3, 9, 0).startswith("Ranked by 3 diners, none put it #1 · 3.0 of 5")


def test_the_why_line_groups_thousands():
    assert why_line(1234, 1234 * 4, 0).startswith("Ranked by 1,234 diners, none put it #1")
