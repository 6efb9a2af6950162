"""Leaderboards views (being built for issue 3)."""

from flask import abort
from flask.typing import ResponseReturnValue

from bellyfed.leaderboards import bp


@bp.get("/dishes")
def index(**_: object) -> ResponseReturnValue:
    """Placeholder until the view lands (issue 3 work in progress)."""
    abort(404)


@bp.get("/dishes/<type_slug>")
def dish_type(**_: object) -> ResponseReturnValue:
    """Placeholder until the view lands (issue 3 work in progress)."""
    abort(404)


@bp.get("/dishes/<type_slug>/<city_slug>")
def city_board(**_: object) -> ResponseReturnValue:
    """Placeholder until the view lands (issue 3 work in progress)."""
    abort(404)
