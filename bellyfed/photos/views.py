"""Photos views (being built for issue 3)."""

from flask import abort
from flask.typing import ResponseReturnValue

from bellyfed.photos import bp


@bp.get("/photos/<int:photo_id>")
def show(**_: object) -> ResponseReturnValue:
    """Placeholder until the view lands (issue 3 work in progress)."""
    abort(404)


@bp.get("/photos/<int:photo_id>/thumb")
def thumbnail(**_: object) -> ResponseReturnValue:
    """Placeholder until the view lands (issue 3 work in progress)."""
    abort(404)
