"""Accounts views (being built for issue 3)."""

from flask import abort
from flask.typing import ResponseReturnValue

from bellyfed.accounts import bp


@bp.route("/auth/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    """Placeholder until the view lands (issue 3 work in progress)."""
    abort(404)


@bp.route("/auth/register", methods=["GET", "POST"])
def register() -> ResponseReturnValue:
    """Placeholder until the view lands (issue 3 work in progress)."""
    abort(404)


@bp.post("/auth/logout")
def logout() -> ResponseReturnValue:
    """Placeholder until the view lands (issue 3 work in progress)."""
    abort(404)


@bp.route("/account", methods=["GET", "POST"])
def settings() -> ResponseReturnValue:
    """Placeholder until the view lands (issue 3 work in progress)."""
    abort(404)


@bp.get("/users/<username>")
def profile(username: str) -> ResponseReturnValue:
    """Placeholder until the view lands (issue 3 work in progress)."""
    abort(404)
