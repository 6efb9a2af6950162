"""PREFERENCES_STORE in the account services: postgresql, dual (with fallback), dynamodb."""

import logging
import os
import subprocess
import sys
from dataclasses import replace

import pytest

from bellyfed import PROJECT_ROOT
from bellyfed.accounts.services import load_preferences, update_preferences
from bellyfed.config import ConfigError
from bellyfed.data import preferences_store as store
from bellyfed.data.preferences_store import BadPreferencesStore, PreferencesUnavailable
from bellyfed.dynamo import table
from bellyfed.extensions import db
from tests.accounts.support import save_settings
from tests.conftest import free_port, make_test_app
from tests.factories import CuisineFactory, UserFactory
from tests.web import log_in, text


@pytest.fixture
def mode(app, monkeypatch):
    def set_mode(value):
        monkeypatch.setitem(app.config, "PREFERENCES_STORE", value)

    return set_mode


@pytest.fixture
def dynamodb_down(app, monkeypatch):
    def go_down():
        monkeypatch.setitem(
            app.config, "AWS_ENDPOINT_URL_DYNAMODB", f"http://127.0.0.1:{free_port()}"
        )
        monkeypatch.delitem(app.extensions, "dynamodb", raising=False)

    return go_down


def save(user, cuisines=(), needs=("halal",), low=1, high=2):
    return update_preferences(
        user,
        cuisine_ids=[c.id for c in cuisines],
        dietary_needs=needs,
        price_min=low,
        price_max=high,
    )


def item(user):
    return table("preferences").get_item(Key=store.key(user.id), ConsistentRead=True).get("Item")


def test_postgresql_mode_never_touches_dynamodb(stores, mode):
    mode("postgresql")
    user, laksa = UserFactory(), CuisineFactory(name="Laksa")
    save(user, [laksa])
    db.session.commit()

    assert item(user) is None
    assert user.preferences.price_max == 2
    prefs = load_preferences(user)
    assert (prefs.price_min, prefs.price_max, prefs.dietary_needs) == (1, 2, ["halal"])
    assert [c.name for c in prefs.favourite_cuisines] == ["Laksa"]


def test_dual_writes_both_after_the_commit_and_reads_dynamodb(stores, mode):
    mode("dual")
    user, laksa = UserFactory(), CuisineFactory(name="Laksa")
    save(user, [laksa], needs=("vegan", "halal"))
    assert item(user) is None  # not before the commit
    db.session.commit()

    stored = store.StoredPreferences.from_item(item(user))
    assert stored.fields() == {
        "user_id": user.id,
        "price_min": 1,
        "price_max": 2,
        "dietary_needs": ["halal", "vegan"],
        "cuisine_ids": [laksa.id],
        "updated_at": stored.fields()["updated_at"],
    }
    assert stored.updated_at == user.preferences.updated_at  # one instant in both stores
    # Reads come from DynamoDB: change only the item and the read follows it.
    table("preferences").update_item(
        Key=store.key(user.id),
        UpdateExpression="SET price_max = :p",
        ExpressionAttributeValues={":p": 4},
    )
    assert load_preferences(user).price_max == 4
    assert [c.name for c in load_preferences(user).favourite_cuisines] == ["Laksa"]


def test_dual_falls_back_to_postgresql_when_dynamodb_lacks_the_item(stores, mode):
    mode("postgresql")
    user = UserFactory()
    save(user, low=3, high=4)
    db.session.commit()  # saved before the switch: not in DynamoDB yet
    mode("dual")

    assert item(user) is None
    assert load_preferences(user).price_min == 3
    assert load_preferences(UserFactory()) is None  # never saved anywhere


def test_dual_falls_back_to_postgresql_while_dynamodb_is_down(stores, mode, dynamodb_down):
    mode("dual")
    user = UserFactory()
    save(user, low=2, high=3)
    db.session.commit()
    dynamodb_down()

    assert load_preferences(user).price_min == 2


def test_dual_refuses_a_save_it_cannot_mirror(stores, mode, dynamodb_down):
    mode("dual")
    user = UserFactory()
    save(user, low=2, high=3)
    db.session.commit()
    dynamodb_down()

    with pytest.raises(PreferencesUnavailable):
        save(user, low=4, high=4)
    db.session.rollback()
    assert db.session.get(type(user.preferences), user.id, populate_existing=True).price_min == 2


def test_dual_rollback_leaves_no_dynamodb_copy_behind(stores, mode):
    mode("dual")
    user = UserFactory()
    save(user, low=1, high=1)
    db.session.commit()
    save(user, low=4, high=4)
    db.session.rollback()  # the save failed in PostgreSQL

    assert item(user) is None  # invalidated, never rewritten: reads fall back to PostgreSQL
    assert load_preferences(user).price_min == 1


def test_dynamodb_mode_reads_and_writes_only_dynamodb(stores, mode):
    mode("dynamodb")
    user, laksa = UserFactory(), CuisineFactory(name="Laksa")
    save(user, [laksa], low=2, high=2)
    db.session.commit()

    assert user.preferences is None  # PostgreSQL untouched
    assert item(user)["price_min"] == 2
    prefs = load_preferences(user)
    assert (prefs.price_min, [c.name for c in prefs.favourite_cuisines]) == (2, ["Laksa"])


def test_dynamodb_mode_has_no_fallback(stores, mode, dynamodb_down):
    mode("postgresql")
    user = UserFactory()
    save(user)
    db.session.commit()
    mode("dynamodb")

    assert load_preferences(user) is None  # only in PostgreSQL: not read any more
    dynamodb_down()
    assert load_preferences(user) is None  # down: unpersonalized pages, not a 500
    with pytest.raises(PreferencesUnavailable):
        save(user)


def test_a_misspelt_mode_fails_loudly(stores, mode):
    mode("dynamo")
    with pytest.raises(BadPreferencesStore, match="postgresql, dual, dynamodb"):
        load_preferences(UserFactory())


@pytest.mark.parametrize("value", ["Dual", " dual", "dynamo"])
def test_a_misspelt_mode_refuses_to_start(database_url, aws_endpoint, value):
    """Not a 500 on every signed-in page later: no case or space folding, one clear line."""
    with pytest.raises(ConfigError) as refused:
        make_test_app(database_url, aws_endpoint, PREFERENCES_STORE=value)
    assert str(refused.value) == (
        f"PREFERENCES_STORE must be one of postgresql, dual, dynamodb, not {value!r}"
    )


def test_the_wsgi_entry_point_names_a_misspelt_mode():
    env = {**os.environ, "PREFERENCES_STORE": "Dual"}
    result = subprocess.run([sys.executable, "-c", "import wsgi"], cwd=PROJECT_ROOT, env=env,
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode != 0
    assert result.stderr.strip() == (
        "bellyfed: PREFERENCES_STORE must be one of postgresql, dual, dynamodb, not 'Dual'"
    )


def test_a_failed_write_after_the_commit_removes_an_older_copy(stores, mode, caplog):
    """A move copied the diner's older row in between the save's delete and its commit; the
    save's own write then fails: the item goes again, so reads fall back to PostgreSQL."""
    mode("dual")
    user = UserFactory()
    save(user, low=1, high=1)
    db.session.commit()
    older = store.get(user.id)
    saved = save(user, low=4, high=4)  # deletes the item; writes it after the commit
    store.put(older)  # the move's copy of the row as it was
    # DynamoDB refuses the save's write for real: an item over its 400 KB limit.
    pending = db.session.info[store.PENDING][user.id]
    store.put_after_commit(db.session(), replace(pending, dietary_needs=("x" * 410_000,)))

    with caplog.at_level(logging.ERROR, logger=store.__name__):
        db.session.commit()

    assert item(user) is None
    assert load_preferences(user).price_min == saved.price_min == 4
    assert f"preferences of user {user.id} not copied to DynamoDB" in caplog.text
    assert "may serve an older copy" not in caplog.text


def test_when_dynamodb_refuses_the_cleanup_too_it_is_logged(stores, mode, dynamodb_down, caplog):
    mode("dual")
    user = UserFactory()
    save(user, low=1, high=1)
    db.session.commit()
    older = store.get(user.id)
    save(user, low=4, high=4)
    store.put(older)
    dynamodb_down()

    with caplog.at_level(logging.ERROR, logger=store.__name__):
        db.session.commit()

    assert (
        f"preferences of user {user.id}: DynamoDB may serve an older copy until the next save "
        f"or a re-run of the move (delete item USER#{user.id} to fall back to PostgreSQL now)"
    ) in caplog.text


def test_the_settings_page_saves_through_the_switch(stores, mode, client):
    mode("dual")
    user, laksa = UserFactory(username="siti"), CuisineFactory(name="Laksa")
    db.session.commit()
    log_in(client, "siti")

    response = save_settings(
        client,
        "preferences",
        {
            "favourite_cuisines": [laksa.id],
            "dietary_needs": ["halal"],
            "price_min": "1",
            "price_max": "3",
        },
    )
    assert response.status_code == 302, text(response)[:500]
    assert item(user)["cuisine_ids"] == [laksa.id]
    assert item(user)["price_max"] == 3
