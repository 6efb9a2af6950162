"""The flags table against moto's server: round trips, versions, the change log."""

from __future__ import annotations

import pytest

from bellyfed.dynamo import flags as storage
from bellyfed.dynamo.flags import VersionConflict
from bellyfed.flags.evaluate import Experiment, Flag, Variant


@pytest.fixture
def ctx(app, flags_table):
    with app.app_context():
        yield


def test_a_flag_round_trips(ctx):
    flag = Flag(name="new-board", enabled=True, rollout=30, users=frozenset({7, 42}),
                roles=frozenset({"admin"}), cities=frozenset({"penang", "ipoh"}), default=False,
                description="Tighter rows")  # fmt: skip
    saved = storage.put(flag, 0, "ops", "created")
    assert saved.version == 1
    assert saved.updated_by == "ops"
    assert saved.updated_at
    assert storage.get(Flag, "new-board") == saved
    assert storage.get(Flag, "missing") is None


def test_an_experiment_round_trips_and_list_all_skips_the_logs(ctx):
    exp = Experiment(name="hero", variants=(Variant("dish", 50), Variant("craving", 50)),
                     enabled=True, description="Search hint")  # fmt: skip
    saved = storage.put(exp, 0, "ops", "created")
    flag = storage.put(Flag(name="f"), 0, "ops", "created")
    storage.put(flag, 1, "ops", "edited")  # a second log item under FLAG#f
    flags, experiments = storage.list_all()
    assert experiments == {"hero": saved}
    assert list(flags) == ["f"]
    assert flags["f"].version == 2
    assert storage.get(Experiment, "hero").variants == (Variant("dish", 50), Variant("craving", 50))


def test_a_stale_version_is_refused_and_the_stored_one_reported(ctx):
    storage.put(Flag(name="f"), 0, "alice", "created")
    mine = storage.put(Flag(name="f", enabled=True), 1, "alice", "on")
    with pytest.raises(VersionConflict) as conflict:
        storage.put(Flag(name="f", rollout=50), 1, "bob", "rollout")  # bob saw version 1
    assert conflict.value.current == mine
    assert storage.get(Flag, "f") == mine
    assert [c["who"] for c in storage.changes(Flag, "f")] == ["alice", "alice"]


def test_creating_a_name_that_exists_is_a_conflict(ctx):
    storage.put(Flag(name="f"), 0, "alice", "created")
    with pytest.raises(VersionConflict):
        storage.put(Flag(name="f", enabled=True), 0, "bob", "created")
    assert not storage.get(Flag, "f").enabled


def test_the_change_log_is_newest_first_with_who_what_and_when(ctx):
    saved = storage.put(Flag(name="f"), 0, "alice", "created")
    for n in range(1, 4):
        saved = storage.put(Flag(name="f", rollout=n * 10), saved.version, f"op{n}", f"to {n}0%")
    log = storage.changes(Flag, "f")
    assert [(e["version"], e["who"], e["what"]) for e in log] == [
        (4, "op3", "to 30%"), (3, "op2", "to 20%"), (2, "op1", "to 10%"), (1, "alice", "created"),
    ]  # fmt: skip
    assert all(e["at"].endswith("+00:00") for e in log)
    assert storage.changes(Experiment, "f") == []  # experiments have their own partition
