"""Search and browse restaurants."""

from flask import Blueprint

bp = Blueprint("search", __name__)

from bellyfed.search import views  # noqa: E402, F401  (registers the routes on bp)
