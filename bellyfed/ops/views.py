"""Liveness (/healthz), readiness (/readyz) and Prometheus metrics (/metrics)."""

from __future__ import annotations

import hmac
import ipaddress

from flask import Flask, Response, abort, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from bellyfed.config import ConfigError
from bellyfed.ops import bp, readiness, scrape

NO_STORE = "no-store"
DEFAULT_NETWORKS = "127.0.0.1/32,::1/128"
# A request that went through a proxy: its socket peer is the proxy, not the client.
PROXY_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    """The process is up and serving requests."""
    response = jsonify(status="ok")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/readyz")
def readyz() -> ResponseReturnValue:
    """Every dependency answers: 200, else 503 with each one's status (within ~2 s; cached ~1 s)."""
    checks = readiness.current_checks()
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
    body, content_type = scrape.exposition()
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


def socket_peer() -> str:
    """The address of whoever opened the connection, before ProxyFix rewrote ``remote_addr``."""
    original = request.environ.get("werkzeug.proxy_fix.orig") or {}
    return original.get("REMOTE_ADDR") or request.environ.get("REMOTE_ADDR") or ""


def metrics_allowed() -> bool:
    """The request carries the metrics token, or came straight (no proxy headers) from an
    allowed network: forwarding headers are client-supplied, so they never grant access."""
    token = current_app.config.get("METRICS_TOKEN") or ""
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    offered = given.strip().encode() if scheme.lower() == "bearer" else b""
    if token and hmac.compare_digest(offered, token.encode()):
        return True
    if any(header in request.headers for header in PROXY_HEADERS):
        return False
    try:
        address = ipaddress.ip_address(socket_peer())
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
    readiness.check_settings(app)
