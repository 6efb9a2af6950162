"""Rate limits for the API (Flask-Limiter on Redis), with the X-RateLimit-* headers.

Three limits, each in a fixed one-minute window:
    per token       ``API_RATE_LIMIT_TOKEN`` for requests that present a bearer token (keyed by
                    the token's digest, known without a lookup, so the check costs no DynamoDB read)
    per address     ``API_RATE_LIMIT_ANONYMOUS`` for requests without a token
    address ceiling ``API_RATE_LIMIT_ADDRESS`` for every request, so inventing tokens buys nothing
A refused request gets a 429 problem with ``Retry-After``. Redis being down lifts the limits
(logged) rather than failing the API.
"""

from __future__ import annotations

import ipaddress

from flask import Flask, current_app, request
from flask_limiter import Limiter
from flask_smorest import Blueprint

from bellyfed.api.auth import token_key

DOC_BLUEPRINTS = ("api-docs", "api_docs")  # the OpenAPI document and the reference page


def _token_limit() -> str:
    return current_app.config["API_RATE_LIMIT_TOKEN"]


def _anonymous_limit() -> str:
    return current_app.config["API_RATE_LIMIT_ANONYMOUS"]


def _address_limit() -> str:
    return current_app.config["API_RATE_LIMIT_ADDRESS"]


def _by_token() -> str:
    return f"token:{token_key()}"


def client_address() -> str:
    """The client's address; an IPv6 client by its /64, which one subscriber usually holds whole
    (counting each address would let a client rotate through them for fresh allowances)."""
    address = request.remote_addr or "unknown"
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if parsed.version == 6 and not parsed.ipv4_mapped:
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return address


def init_app(app: Flask, blueprints: list[Blueprint]) -> Limiter:
    """Limits on every API blueprint and the documentation (register those first)."""
    limiter = Limiter(
        client_address,
        app=app,
        storage_uri=app.config["REDIS_URL"],
        key_prefix="bellyfed:ratelimit",
        strategy="fixed-window",
        headers_enabled=True,
        swallow_errors=True,
    )
    # Shared: one allowance across every API blueprint, not one per resource.
    per_token = limiter.shared_limit(_token_limit, scope="api-token", key_func=_by_token,
                                     exempt_when=lambda: token_key() is None)  # fmt: skip
    per_address = limiter.shared_limit(
        _anonymous_limit, scope="api-anonymous", exempt_when=lambda: token_key() is not None
    )
    ceiling = limiter.shared_limit(_address_limit, scope="api-address")
    for blueprint in [*blueprints, *(app.blueprints[name] for name in DOC_BLUEPRINTS)]:
        for limit in (per_token, per_address, ceiling):
            limit(blueprint)
    return limiter
