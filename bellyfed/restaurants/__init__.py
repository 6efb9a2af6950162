"""Restaurants: browsing and restaurant pages."""

from flask import Blueprint

bp = Blueprint("restaurants", __name__)
