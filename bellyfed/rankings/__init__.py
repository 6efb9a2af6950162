"""Rankings: each diner's top-5 per dish type, taste marks and history."""

from flask import Blueprint

bp = Blueprint("rankings", __name__)
