"""Votes: likes on dishes, helpful votes on reviews."""

from flask import Blueprint

bp = Blueprint("votes", __name__)
