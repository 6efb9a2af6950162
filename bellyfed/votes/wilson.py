"""Wilson score lower bound: rank by "how helpful are we sure this is", not by raw counts.

A review with 3 helpful of 3 votes should not outrank one with 95 of 100: the lower bound of the
95% confidence interval of the helpful share punishes small samples.
"""

from __future__ import annotations

import math

from sqlalchemy import ColumnElement, Float, case, func, literal

Z = 1.96  # 95% confidence


def wilson_lower_bound(positive: int, total: int, z: float = Z) -> float:
    """Lower bound of the Wilson interval for ``positive`` of ``total``; 0 with no votes."""
    if total <= 0:
        return 0.0
    p = positive / total
    z2 = z * z
    centre = p + z2 / (2 * total)
    margin = z * math.sqrt((p * (1 - p) + z2 / (4 * total)) / total)
    return (centre - margin) / (1 + z2 / total)


def wilson_sql(positive: ColumnElement, total: ColumnElement, z: float = Z) -> ColumnElement:
    """The same bound as a SQL expression, for ORDER BY."""
    n = func.greatest(total, 1).cast(Float())
    p = positive.cast(Float()) / n
    z2 = literal(z * z)
    expression = (p + z2 / (2 * n) - literal(z) * func.sqrt((p * (1 - p) + z2 / (4 * n)) / n)) / (
        1 + z2 / n
    )
    return case((total > 0, expression), else_=literal(0.0))
