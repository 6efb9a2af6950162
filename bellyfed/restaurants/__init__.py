"""Restaurants: browsing and restaurant pages."""

from flask import Blueprint

bp = Blueprint("restaurants", __name__)

from bellyfed.restaurants import views  # noqa: E402, F401  (registers the routes on bp)
