"""Leaderboards: the best dishes of a type in a city, scored from every diner's top-5."""

from flask import Blueprint

bp = Blueprint("leaderboards", __name__)

from bellyfed.leaderboards import views  # noqa: E402, F401  (registers the routes on bp)
