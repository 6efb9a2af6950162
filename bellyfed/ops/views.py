"""Liveness (/healthz), readiness (/readyz) and Prometheus metrics (/metrics)."""

from __future__ import annotations

import hmac
import ipaddress
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

import boto3
from botocore.config import Config
from flask import Flask, Response, abort, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import text

from bellyfed.config import ConfigError
from bellyfed.ops import bp, metrics

NO_STORE = "no-store"
DEFAULT_NETWORKS = "127.0.0.1/32,::1/128"
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    """The process is up and serving requests."""
    response = jsonify(status="ok")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/readyz")
def readyz() -> ResponseReturnValue:
    """Every dependency answers: 200, else 503 with each one's status (within ~2 s)."""
    checks = check_dependencies()
    ready = all(check["status"] == "ok" for check in checks.values())
    response = jsonify(status="ok" if ready else "unavailable", checks=checks)
    response.status_code = 200 if ready else 503
    response.headers["Cache-Control"] = NO_STORE
    return response


@bp.get("/metrics")
def metrics_page() -> ResponseReturnValue:
    """Prometheus metrics, for allowed networks or the metrics token only (else a plain 404)."""
    if not metrics_allowed():
        abort(404)
    body, content_type = metrics.exposition()
    return Response(body, content_type=content_type, headers={"Cache-Control": NO_STORE})


# --- Who may read /metrics ---------------------------------------------------------------------


def parse_networks(raw: str | list[str] | tuple[str, ...]) -> list[Network]:
    """``METRICS_ALLOWED_NETWORKS``: CIDRs or addresses, comma-separated or a list."""
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    networks = []
    for item in (str(i).strip() for i in items):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError as exc:
            raise ConfigError(
                f"METRICS_ALLOWED_NETWORKS: {item!r} is not an address or network "
                "(write e.g. 127.0.0.1/32,10.0.0.0/8)"
            ) from exc
    return networks


def metrics_allowed() -> bool:
    """The client address is in an allowed network, or the request carries the metrics token."""
    token = current_app.config.get("METRICS_TOKEN") or ""
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    offered = given.strip().encode() if scheme.lower() == "bearer" else b""
    if token and hmac.compare_digest(offered, token.encode()):
        return True
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    networks = current_app.extensions["metrics_networks"]
    return any(address in network for network in networks)


def init_app(app: Flask) -> None:
    """Parse the /metrics and /readyz settings once, refusing to start on a bad value."""
    raw = app.config.get("METRICS_ALLOWED_NETWORKS", DEFAULT_NETWORKS)
    app.extensions["metrics_networks"] = parse_networks(raw)
    token = app.config.get("METRICS_TOKEN")
    if token is not None and not isinstance(token, str):
        raise ConfigError("METRICS_TOKEN must be a string")
    try:
        timeout = float(app.config.get("READYZ_TIMEOUT_SECONDS", 1.5))
    except (TypeError, ValueError):
        timeout = 0
    if not 0 < timeout <= 10:
        raise ConfigError("READYZ_TIMEOUT_SECONDS must be a number of seconds above 0, up to 10")


# --- Readiness ---------------------------------------------------------------------------------


def _postgresql() -> None:
    from bellyfed.extensions import db

    with db.engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def _redis() -> None:
    from bellyfed.redis_client import get_redis

    get_redis().ping()


def _dynamodb() -> None:
    from bellyfed.dynamo import table_name

    client = current_app.extensions.get("dynamodb_probe")
    if client is None:  # its own client: one attempt, short timeouts, not counted as app traffic
        client = boto3.session.Session().client(
            "dynamodb",
            region_name=current_app.config["AWS_REGION"],
            endpoint_url=current_app.config["AWS_ENDPOINT_URL_DYNAMODB"],
            config=Config(connect_timeout=1, read_timeout=1, retries={"total_max_attempts": 1}),
        )
        current_app.extensions["dynamodb_probe"] = client
    logical = current_app.config.get("READYZ_DYNAMODB_TABLE", "sessions")
    client.describe_table(TableName=table_name(logical))


CHECKS: dict[str, Callable[[], None]] = {
    "postgresql": _postgresql,
    "redis": _redis,
    "dynamodb": _dynamodb,
}


def _timed(app: Flask, check: Callable[[], None]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        with app.app_context():
            check()
        result: dict[str, Any] = {"status": "ok"}
    except Exception as exc:  # any failure means "not ready"; the class name says which kind
        result = {"status": "error", "error": type(exc).__name__}
    result["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result


def check_dependencies() -> dict[str, dict[str, Any]]:
    """Each dependency's status and latency, checked in parallel under one deadline."""
    app = current_app._get_current_object()
    deadline = float(app.config.get("READYZ_TIMEOUT_SECONDS", 1.5))
    executor = ThreadPoolExecutor(max_workers=len(CHECKS), thread_name_prefix="readyz")
    futures = {name: executor.submit(_timed, app, check) for name, check in CHECKS.items()}
    # Don't wait for a hung check: its thread ends on its own timeout, after we have answered.
    executor.shutdown(wait=False)
    wait(futures.values(), timeout=deadline)
    return {
        name: future.result()
        if future.done()
        else {"status": "timeout", "latency_ms": round(deadline * 1000, 1)}
        for name, future in futures.items()
    }
