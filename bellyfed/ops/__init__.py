"""Operations: liveness (/healthz), readiness (/readyz), Prometheus metrics (/metrics) and the
slow-query log (see docs/monitoring.md)."""

from flask import Blueprint, Flask

bp = Blueprint("ops", __name__)


def init_app(app: Flask) -> None:
    """Check the monitoring settings, then time requests, watch the pools and slow queries.

    Called early in ``create_app`` so the request timer runs before, and the counting after,
    every other feature's request hooks.
    """
    from bellyfed.ops import metrics, slowlog, views

    views.init_app(app)
    metrics.init_app(app)
    slowlog.init_app(app)
