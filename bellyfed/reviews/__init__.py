"""Reviews of restaurants, with photos and comments."""

from flask import Blueprint

bp = Blueprint("reviews", __name__)
