"""Votes views (being built for issue 3)."""

from flask import abort
from flask.typing import ResponseReturnValue

from bellyfed.votes import bp


@bp.get("/me/votes")
def mine(**_: object) -> ResponseReturnValue:
    """Placeholder until the view lands (issue 3 work in progress)."""
    abort(404)
