"""Secrets with a lifetime in the ``tokens`` table: API tokens, password resets, form state.

Keys:
    PK  ``TOKEN#<sha256 of the secret>``: the secret itself is never stored, so a leaked table
        (or backup) lets nobody sign in, reset a password or read a half-filled form
    SK  ``META``
    GSI ``user_id`` (HASH, N): a user's tokens (the API token list, ending every reset link)
Attributes: ``kind`` ("api" | "reset" | "state"), ``user_id``, ``created_at``, ``expires_at``
(TTL, epoch seconds), ``name`` and ``hint`` (API tokens: the owner's label and the first characters
of the secret, to tell tokens apart), ``last_used_at`` (API tokens), ``data`` (form state, JSON).

The secrets carry 256 random bits, so one unsalted SHA-256 is the right hash: a slow password hash
would add nothing but latency on every API call. DynamoDB deletes expired items late (moto never):
every read here checks ``expires_at`` itself. A reset link is used up by a conditional delete, so
two requests racing with the same link cannot both succeed.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from bellyfed.dynamo import every_page, table

TABLE = "tokens"
KINDS = ("api", "reset", "state")
# API tokens say what they are, so secret scanners and people can recognise a leaked one.
PREFIXES = {"api": "bf_", "reset": "", "state": ""}
HINT_CHARS = 7  # "bf_" and four random characters
TOUCH_SECONDS = 300  # last_used_at of an API token moves at most every five minutes


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def key(token_id: str) -> dict[str, str]:
    return {"pk": f"TOKEN#{token_id}", "sk": "META"}


@dataclass(frozen=True)
class Token:
    """One stored token; ``id`` is the digest of its secret."""

    id: str
    kind: str
    user_id: int | None
    created_at: int
    expires_at: int
    name: str = ""
    hint: str = ""
    last_used_at: int | None = None
    data: Any = None

    def expired(self, now: float | None = None) -> bool:
        return self.expires_at <= (time.time() if now is None else now)


def _token(item: dict[str, Any]) -> Token:
    return Token(
        id=item["pk"].removeprefix("TOKEN#"),
        kind=item["kind"],
        user_id=int(item["user_id"]) if item.get("user_id") is not None else None,
        created_at=int(item["created_at"]),
        expires_at=int(item["expires_at"]),
        name=item.get("name", ""),
        hint=item.get("hint", ""),
        last_used_at=int(item["last_used_at"]) if item.get("last_used_at") is not None else None,
        data=json.loads(item["data"]) if "data" in item else None,
    )


def issue(
    kind: str, user_id: int | None, ttl_seconds: int, *, name: str = "", data: Any = None
) -> tuple[str, Token]:
    """A new token: returns the secret (shown or sent once, never stored) and what was stored."""
    if kind not in KINDS:
        raise ValueError(f"unknown token kind {kind!r}")
    secret = PREFIXES[kind] + secrets.token_urlsafe(32)
    now = int(time.time())
    token = Token(
        id=digest(secret), kind=kind, user_id=user_id, created_at=now,
        expires_at=now + ttl_seconds, name=name,
        hint=secret[:HINT_CHARS] if kind == "api" else "", data=data,
    )  # fmt: skip
    item: dict[str, Any] = {
        **key(token.id), "kind": kind, "created_at": now, "expires_at": token.expires_at,
    }  # fmt: skip
    if user_id is not None:
        item["user_id"] = user_id
    if name:
        item["name"] = name
    if token.hint:
        item["hint"] = token.hint
    if data is not None:
        item["data"] = json.dumps(data)
    table(TABLE).put_item(Item=item, ConditionExpression="attribute_not_exists(pk)")
    return secret, token


def find(secret: str, kind: str) -> Token | None:
    """The live token of that kind for a secret, or None (unknown, other kind or expired)."""
    if not secret:
        return None
    item = table(TABLE).get_item(Key=key(digest(secret)), ConsistentRead=True).get("Item")
    if not item or item.get("kind") != kind:
        return None
    token = _token(item)
    return None if token.expired() else token


def consume(secret: str, kind: str) -> Token | None:
    """Use a token up: deleted if it is live and of that kind, in one conditional request."""
    if not secret:
        return None
    try:
        old = table(TABLE).delete_item(
            Key=key(digest(secret)),
            ConditionExpression=Attr("kind").eq(kind) & Attr("expires_at").gt(int(time.time())),
            ReturnValues="ALL_OLD",
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return None
        raise
    return _token(old["Attributes"]) if old.get("Attributes") else None


def replace_data(token: Token, data: Any) -> None:
    """New contents for a live state token, keeping its id and deadline."""
    table(TABLE).update_item(
        Key=key(token.id),
        UpdateExpression="SET #data = :data",
        ConditionExpression=Attr("kind").eq("state") & Attr("expires_at").gt(int(time.time())),
        ExpressionAttributeNames={"#data": "data"},
        ExpressionAttributeValues={":data": json.dumps(data)},
    )


def touch(token: Token, now: int | None = None) -> None:
    """Note that an API token was used, at most every ``TOUCH_SECONDS`` (a small UpdateItem)."""
    now = int(time.time()) if now is None else now
    if token.last_used_at is not None and now - token.last_used_at < TOUCH_SECONDS:
        return
    try:
        table(TABLE).update_item(
            Key=key(token.id),
            UpdateExpression="SET last_used_at = :now",
            ConditionExpression=Attr("pk").exists(),  # never resurrect a revoked token
            ExpressionAttributeValues={":now": now},
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise


def _items_of(user_id: int, kind: str) -> list[dict[str, Any]]:
    """Every stored item of one kind a user holds (through the ``user_id`` index, all pages)."""
    return every_page(
        TABLE, IndexName="user_id", KeyConditionExpression=Key("user_id").eq(user_id),
        FilterExpression=Attr("kind").eq(kind),
    )  # fmt: skip


def for_user(user_id: int, kind: str) -> list[Token]:
    """A user's live tokens of one kind, newest first."""
    now = time.time()
    tokens = [_token(item) for item in _items_of(user_id, kind)]
    return sorted((t for t in tokens if not t.expired(now)), key=lambda t: -t.created_at)


def revoke(user_id: int, token_id: str, kind: str) -> bool:
    """Delete one of the user's tokens; False when there was no such token of theirs."""
    try:
        table(TABLE).delete_item(
            Key=key(token_id),
            ConditionExpression=Attr("user_id").eq(user_id) & Attr("kind").eq(kind),
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True


def revoke_all(user_id: int, kind: str) -> int:
    """Delete every token of one kind the user holds (expired ones too); returns how many."""
    ids = [item["pk"].removeprefix("TOKEN#") for item in _items_of(user_id, kind)]
    with table(TABLE).batch_writer() as batch:
        for token_id in ids:
            batch.delete_item(Key=key(token_id))
    return len(ids)
