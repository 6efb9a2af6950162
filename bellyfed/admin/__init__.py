"""The operators' area: the live dashboard (feature flags follow in issue 5)."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")
