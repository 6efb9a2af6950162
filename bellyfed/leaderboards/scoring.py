"""How a city leaderboard is scored: a Bayesian average of top-5 points with a fixed prior.

Every ranked position is worth points: #1 = 5, #2 = 4, ... #5 = 1. A dish's score is the average
of its points after adding ``PRIOR_RANKERS`` imaginary diners who each gave it ``PRIOR_POINTS``::

    score = (PRIOR_POINTS * PRIOR_RANKERS + points) / (PRIOR_RANKERS + rankers)

The prior is a fixed neutral value, 3 points (the middle of the scale: a #3 from five diners), not
the board's mean. A board's mean is set by its most-ranked dishes, so on a small board the prior
would sit at the favourite's own average and a single #1 vote (5 points) would outscore forty
votes that are mostly #1s. A fixed middle also keeps scores comparable between cities and over
time. With five imaginary diners a dish's own votes outweigh the prior once five real diners
ranked it; one #1 scores (15 + 5) / 6 = 3.33, well below forty mostly-#1 votes (about 4.6).

The score answers "how high do the diners who know this dish place it"; rankers are shown beside
it. Ties are broken by more rankers, then more #1s, then the lower (older) dish id, so a board
always has one order. Scores stay exact rationals of integers, so equal scores compare equal.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

TOP_POSITIONS = 5
PRIOR_POINTS = 3  # an integer, so equal scores divide to the identical float
PRIOR_RANKERS = 5


class Tally(NamedTuple):
    """What the diners said about one dish on one board."""

    dish_id: int
    rankers: int  # diners with the dish in their top-5
    points: int  # sum of (6 - position)
    first_places: int


class Scored(NamedTuple):
    """A dish's place on its board."""

    tally: Tally
    rank: int
    score: float


def points_for(position: int) -> int:
    """#1 -> 5 points ... #5 -> 1 point."""
    return TOP_POSITIONS + 1 - position


def bayesian_score(points: int, rankers: int) -> float:
    """The average points per diner, pulled towards the neutral prior."""
    return (PRIOR_POINTS * PRIOR_RANKERS + points) / (PRIOR_RANKERS + rankers)


def rank_tallies(tallies: Iterable[Tally]) -> list[Scored]:
    """Score one board's dishes and number them 1..n, best first."""
    scored = [(bayesian_score(t.points, t.rankers), t) for t in tallies]
    scored.sort(key=lambda st: (-st[0], -st[1].rankers, -st[1].first_places, st[1].dish_id))
    return [Scored(tally=t, rank=n, score=s) for n, (s, t) in enumerate(scored, start=1)]


def why_line(rankers: int, points: int, first_places: int) -> str:
    """One line saying why a dish stands where it does, in numbers a diner can check."""
    if rankers == 1:
        who = f"1 diner, who put it #{TOP_POSITIONS + 1 - points}"
    elif first_places:
        who = f"{rankers:,} diners, {first_places:,} put it #1"
    else:
        who = f"{rankers:,} diners, none put it #1"
    average = points / rankers if rankers else 0.0
    prior_position = TOP_POSITIONS + 1 - PRIOR_POINTS
    line = (
        f"Ranked by {who} · {average:.1f} of {TOP_POSITIONS} points on average"
        f" · score {bayesian_score(points, rankers):.2f} after adding"
        f" {PRIOR_RANKERS} neutral #{prior_position} votes"
    )
    if rankers < PRIOR_RANKERS:
        line += " (few votes yet, so held near the middle)"
    return line
