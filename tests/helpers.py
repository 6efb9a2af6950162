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
