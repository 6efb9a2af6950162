"""Rankings views (being built for issue 3)."""

from flask import abort
from flask.typing import ResponseReturnValue

from bellyfed.rankings import bp


@bp.get("/me/rankings")
def mine(**_: object) -> ResponseReturnValue:
    """Placeholder until the view lands (issue 3 work in progress)."""
    abort(404)


@bp.get("/me/rankings/history")
def history(**_: object) -> ResponseReturnValue:
    """Placeholder until the view lands (issue 3 work in progress)."""
    abort(404)
