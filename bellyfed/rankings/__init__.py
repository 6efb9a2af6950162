"""Rankings: each diner's top-5 per dish type, taste marks and history."""

from flask import Blueprint

bp = Blueprint("rankings", __name__)

from bellyfed.rankings import views  # noqa: E402, F401  (registers the routes on bp)
