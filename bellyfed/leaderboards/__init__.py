"""Leaderboards: the best dishes of a type in a city, scored from every diner's top-5."""

from flask import Blueprint

bp = Blueprint("leaderboards", __name__, cli_group="leaderboards")
