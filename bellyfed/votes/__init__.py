"""Votes: likes on dishes, helpful votes on reviews."""

from flask import Blueprint

bp = Blueprint("votes", __name__)

from bellyfed.votes import views  # noqa: E402, F401  (registers the routes on bp)
