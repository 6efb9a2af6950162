"""Server-side sessions in the ``sessions`` table.

Keys:
    PK  ``SESSION#<id>``: the random id the cookie carries (``secrets.token_urlsafe(32)``)
    SK  ``META``
    GSI ``user_id`` (HASH, N): sparse, only signed-in sessions carry the attribute
Attributes: ``data`` the session dict (Flask's tagged JSON), ``user_id``, ``created_at`` and
``last_seen`` (epoch seconds), ``expires_at`` TTL (epoch seconds: the earlier of the idle and the
absolute deadline), ``user_agent`` (cut to 200 characters).
Probe item: ``PROBE`` / ``META``, never written; reading it shows the table answers.

DynamoDB deletes expired items late (moto never): readers must check ``expires_at`` themselves,
which ``accounts/sessions.py`` does along with the idle and absolute limits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from bellyfed.dynamo import every_page, resource, table, table_name

TABLE = "sessions"
USER_AGENT_CHARS = 200
PROBE = {"pk": "PROBE", "sk": "META"}  # no session id can have this key


def key(session_id: str) -> dict[str, str]:
    return {"pk": f"SESSION#{session_id}", "sk": "META"}


@dataclass(frozen=True)
class StoredSession:
    """One session item, as stored."""

    id: str
    data: str
    user_id: int | None
    created_at: int
    last_seen: int
    expires_at: int
    user_agent: str


def _stored(item: dict[str, Any]) -> StoredSession:
    return StoredSession(
        id=item["pk"].removeprefix("SESSION#"),
        data=item.get("data", "{}"),
        user_id=int(item["user_id"]) if item.get("user_id") is not None else None,
        created_at=int(item["created_at"]),
        last_seen=int(item["last_seen"]),
        expires_at=int(item["expires_at"]),
        user_agent=item.get("user_agent", ""),
    )


def _item(session: StoredSession) -> dict[str, Any]:
    item: dict[str, Any] = {
        **key(session.id),
        "data": session.data,
        "created_at": session.created_at,
        "last_seen": session.last_seen,
        "expires_at": session.expires_at,
        "user_agent": session.user_agent[:USER_AGENT_CHARS],
    }
    if session.user_id is not None:
        item["user_id"] = session.user_id
    return item


def load(session_id: str) -> StoredSession | None:
    """The stored session, or None; expiry is the caller's to check."""
    item = table(TABLE).get_item(Key=key(session_id)).get("Item")
    return _stored(item) if item else None


def probe() -> None:
    """One GetItem of the never-written probe key: raises if the table does not answer."""
    table(TABLE).get_item(Key=PROBE)


def save(session: StoredSession, replaces: str | None = None, *, existing: bool = False) -> bool:
    """Write the whole item; with ``replaces``, delete that id in the same request (rotation).

    ``existing``: only overwrite a session that is still stored, so a request that was already
    running when the session was ended (logout everywhere, a password reset) cannot bring it
    back; returns False when it was gone.
    """
    if replaces is None:
        condition = {"ConditionExpression": "attribute_exists(pk)"} if existing else {}
        try:
            table(TABLE).put_item(Item=_item(session), **condition)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return False
        return True
    writes = [{"PutRequest": {"Item": _item(session)}},
              {"DeleteRequest": {"Key": key(replaces)}}]  # fmt: skip
    resource().batch_write_item(RequestItems={table_name(TABLE): writes})
    return True


def touch(session_id: str, last_seen: int, expires_at: int) -> None:
    """Move the idle deadline of an unchanged session (a small UpdateItem, not a rewrite); a
    session ended meanwhile stays ended (an UpdateItem would otherwise create a bare item)."""
    try:
        table(TABLE).update_item(
            Key=key(session_id),
            UpdateExpression="SET last_seen = :seen, expires_at = :exp",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":seen": last_seen, ":exp": expires_at},
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise


def delete(session_id: str) -> None:
    """End one session (idempotent)."""
    table(TABLE).delete_item(Key=key(session_id))


def for_user(user_id: int) -> list[StoredSession]:
    """Every stored session of a user, expired ones included (callers filter)."""
    items = every_page(
        TABLE, IndexName="user_id", KeyConditionExpression=Key("user_id").eq(user_id)
    )
    return [_stored(item) for item in items]


def delete_many(session_ids: list[str]) -> None:
    """End several sessions (batched 25 to a request by boto3)."""
    with table(TABLE).batch_writer() as batch:
        for session_id in session_ids:
            batch.delete_item(Key=key(session_id))
