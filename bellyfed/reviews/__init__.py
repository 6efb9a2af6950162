"""Reviews of restaurants, with photos and comments."""

from flask import Blueprint

bp = Blueprint("reviews", __name__)

from bellyfed.reviews import views  # noqa: E402, F401  (registers the routes on bp)
