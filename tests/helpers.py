"""Assertions shared by the tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy.exc import IntegrityError

from bellyfed.extensions import db


@contextmanager
def violates(constraint: str) -> Iterator[None]:
    """The block's writes must be refused by the database, naming ``constraint``.

    Runs in a savepoint so the test's transaction stays usable afterwards.
    """
    with pytest.raises(IntegrityError) as excinfo, db.session.begin_nested():  # noqa: PT012
        yield
        db.session.flush()
    assert excinfo.value.orig.diag.constraint_name == constraint, str(excinfo.value.orig)


def keep_sessions_up(app, monkeypatch: pytest.MonkeyPatch) -> None:
    """Sessions keep the DynamoDB they have now through a later outage: for tests of a feature's
    own outage page, which a signed-in user can only see if the session table still answers."""
    from bellyfed.dynamo import sessions

    with app.app_context():
        live = sessions.resource()
    monkeypatch.setattr(sessions, "resource", lambda: live)
    monkeypatch.setattr(sessions, "table", lambda logical: live.Table(sessions.table_name(logical)))
