"""The Wilson lower bound, in Python and in SQL, agree and favour evidence over small samples."""

import pytest
from sqlalchemy import literal, select

from bellyfed.votes.wilson import wilson_lower_bound, wilson_sql


def test_more_evidence_beats_a_perfect_small_sample():
    assert wilson_lower_bound(95, 100) > wilson_lower_bound(3, 3)
    assert wilson_lower_bound(1, 1) < wilson_lower_bound(8, 10)


def test_no_votes_scores_zero_and_all_negative_is_near_zero():
    assert wilson_lower_bound(0, 0) == 0.0
    assert wilson_lower_bound(0, 50) == pytest.approx(0.0, abs=1e-9)


def test_known_value():
    # 8 of 10 at 95%: 0.4902 (textbook value).
    assert wilson_lower_bound(8, 10) == pytest.approx(0.4902, abs=1e-4)


@pytest.mark.parametrize(
    ("positive", "total"), [(0, 0), (1, 1), (3, 3), (8, 10), (95, 100), (0, 7)]
)
def test_sql_matches_python(db_session, positive, total):
    value = db_session.scalar(select(wilson_sql(literal(positive), literal(total))))
    assert value == pytest.approx(wilson_lower_bound(positive, total), abs=1e-9)
