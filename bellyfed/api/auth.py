"""Bearer tokens for the API: reads are public, writes need ``Authorization: Bearer <token>``.

Cookies never authenticate an API request (the session interface does not even open a session for
``/api/``), so a page on another site cannot make a signed-in browser write through the API, and
the API needs no CSRF token.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from flask import abort, g, request

from bellyfed.accounts import tokens
from bellyfed.accounts.models import User

log = logging.getLogger(__name__)
CHALLENGE = 'Bearer realm="bellyfed"'
SECURITY = [{"bearerAuth": []}]  # the OpenAPI requirement of every write


def presented_secret() -> str | None:
    """The secret in ``Authorization: Bearer …``; None without the header, 401 when malformed."""
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, secret = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        abort(401, description="Send the token as: Authorization: Bearer <token>.")
    return secret.strip()


def token_key() -> str | None:
    """A stable id of the presented token for rate limits, without a lookup (its digest)."""
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return None
    return hashlib.sha256(secret.strip().encode()).hexdigest()


def load_caller() -> None:
    """Before every API request: who the bearer token stands for, or nobody (no header)."""
    g.api_caller = None
    secret = presented_secret()
    if secret is None:
        return
    try:
        caller = tokens.authenticate(secret)
    except (BotoCoreError, ClientError):
        log.warning("API token check failed: tokens table unavailable", exc_info=True)
        abort(503, description="Tokens can't be checked right now. Try again shortly.")
    if caller is None:
        abort(401, description="That API token is unknown, expired or revoked.")
    g.api_caller = caller


def current_caller() -> tokens.Caller | None:
    return g.get("api_caller")


def caller_user() -> User:
    """The user a write acts for (only inside ``token_required`` views)."""
    caller = current_caller()
    assert caller is not None, "caller_user() outside a token_required view"
    return caller.user


def token_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """A write: refused with 401 unless a valid bearer token came with it."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if current_caller() is None:
            abort(401)
        return view(*args, **kwargs)

    return wrapper
