"""Operations: health checks (and, later, readiness and metrics)."""

from flask import Blueprint

bp = Blueprint("ops", __name__)

from bellyfed.ops import views  # noqa: E402, F401  (registers the routes on bp)
