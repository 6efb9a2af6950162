"""Operations: health checks (and, later, readiness and metrics)."""

from flask import Blueprint

bp = Blueprint("ops", __name__)
