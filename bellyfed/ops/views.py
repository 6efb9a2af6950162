"""Liveness: answers without touching any backing service."""

from flask import jsonify
from flask.typing import ResponseReturnValue

from bellyfed.ops import bp


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    """The process is up and serving requests."""
    response = jsonify(status="ok")
    response.headers["Cache-Control"] = "no-store"
    return response
