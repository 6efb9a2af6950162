"""The ``tokens`` table (moto's server): hashed secrets, expiry checked on read, one-use consume."""

from __future__ import annotations

import hashlib
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from bellyfed.accounts import tokens as api_tokens
from bellyfed.dynamo import tokens as storage
from tests.factories import UserFactory


def stored_item(token_id: str) -> dict | None:
    return storage.table(storage.TABLE).get_item(Key=storage.key(token_id)).get("Item")


def expire(token_id: str) -> None:
    """Push a token's deadline into the past without deleting it (DynamoDB deletes late)."""
    storage.table(storage.TABLE).update_item(
        Key=storage.key(token_id),
        UpdateExpression="SET expires_at = :past",
        ExpressionAttributeValues={":past": int(time.time()) - 1},
    )


def test_only_the_digest_of_a_secret_is_stored(app):
    with app.app_context():
        secret, token = storage.issue("reset", 7, 60)
        item = stored_item(token.id)
    assert token.id == hashlib.sha256(secret.encode()).hexdigest()
    assert item["pk"] == f"TOKEN#{token.id}"
    assert secret not in repr(item)
    assert int(item["expires_at"]) - int(item["created_at"]) == 60
    assert len(secret) >= 43  # 256 random bits, URL-safe


def test_find_checks_kind_and_expiry_itself(app):
    with app.app_context():
        secret, token = storage.issue("state", 7, 60, data={"step": 1, "name": "CI"})
        assert storage.find(secret, "state").data == {"step": 1, "name": "CI"}
        assert storage.find(secret, "reset") is None  # a form-state id is not a reset link
        assert storage.find(secret + "x", "state") is None
        assert storage.find("", "state") is None
        expire(token.id)
        assert storage.find(secret, "state") is None  # still stored, no longer served
        assert stored_item(token.id) is not None


def test_consume_works_once_even_when_raced(app):
    with app.app_context():
        secret, _ = storage.issue("reset", 7, 60)

    def attempt(_: int) -> bool:
        with app.app_context():
            return storage.consume(secret, "reset") is not None

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(attempt, range(8)))
    assert outcomes.count(True) == 1


def test_consume_refuses_expired_and_other_kinds(app):
    with app.app_context():
        secret, token = storage.issue("reset", 7, 60)
        assert storage.consume(secret, "state") is None
        expire(token.id)
        assert storage.consume(secret, "reset") is None


def test_api_tokens_list_revoke_and_authenticate(app, db_session):
    owner, other = UserFactory(), UserFactory()
    db_session.flush()
    with app.app_context():
        secret, token = api_tokens.create(owner, "  Laptop   script ", 30)
        assert secret.startswith("bf_")
        assert token.hint == secret[:7]
        assert [t.name for t in api_tokens.listed(owner.id)] == ["Laptop script"]
        assert api_tokens.listed(other.id) == []
        caller = api_tokens.authenticate(secret)
        assert caller.user.id == owner.id
        assert stored_item(token.id)["last_used_at"] >= token.created_at
        assert api_tokens.authenticate("bf_not-a-token") is None
        assert api_tokens.authenticate(secret.removeprefix("bf_")) is None
        assert not api_tokens.revoke(other.id, token.id)  # someone else's: refused
        assert api_tokens.revoke(owner.id, token.id)
        assert api_tokens.authenticate(secret) is None
        assert not api_tokens.revoke(owner.id, token.id)


def test_api_tokens_of_a_deactivated_account_stop_working(app, db_session):
    owner = UserFactory()
    db_session.flush()
    with app.app_context():
        secret, _ = api_tokens.create(owner, "cron", 90)
        assert api_tokens.authenticate(secret) is not None
    owner.is_active = False
    db_session.flush()
    with app.app_context():
        assert api_tokens.authenticate(secret) is None


def test_api_token_limits(app, db_session):
    owner = UserFactory()
    db_session.flush()
    with app.app_context():
        with pytest.raises(ValueError, match="30, 90, 365"):
            api_tokens.create(owner, "x", 7)
        with pytest.raises(ValueError, match="needs a name"):
            api_tokens.create(owner, "   ", 30)
        for n in range(api_tokens.MAX_PER_USER):
            api_tokens.create(owner, f"token {n}", 30)
        with pytest.raises(api_tokens.TooManyTokens, match="Revoke one"):
            api_tokens.create(owner, "one more", 30)
        assert storage.revoke_all(owner.id, "api") == api_tokens.MAX_PER_USER
        assert api_tokens.listed(owner.id) == []
