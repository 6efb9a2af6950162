"""Flag evaluation and experiment assignment: distribution, stickiness, targeting."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from hashlib import sha256

import pytest

from bellyfed.flags.evaluate import (
    Experiment,
    Flag,
    Variant,
    assign,
    in_rollout,
    is_enabled,
    stable_hash,
    valid_weights,
)

IDS = [f"a{i:016x}" for i in range(100_000)]  # anonymous visitor ids
USER_IDS = [str(i) for i in range(1, 100_001)]  # signed-in users


@pytest.mark.parametrize("subjects", [IDS, USER_IDS], ids=["visitors", "users"])
def test_a_30_percent_rollout_reaches_30_percent_within_2_points(subjects):
    flag = Flag(name="new-board", enabled=True, rollout=30)
    share = sum(is_enabled(flag, s, "diner", None) for s in subjects) / len(subjects)
    print(f"30% rollout over {len(subjects):,} ids: {share:.4%}")
    assert abs(share - 0.30) < 0.02


@pytest.mark.parametrize("subjects", [IDS, USER_IDS], ids=["visitors", "users"])
def test_a_50_30_20_experiment_splits_within_2_points(subjects):
    exp = Experiment(
        name="hero", enabled=True, variants=(Variant("a", 50), Variant("b", 30), Variant("c", 20))
    )
    counts = Counter(assign(exp, s) for s in subjects)
    shares = {v: n / len(subjects) for v, n in counts.items()}
    print(f"50/30/20 over {len(subjects):,} ids: {shares}")
    assert set(shares) == {"a", "b", "c"}
    for variant, expected in (("a", 0.5), ("b", 0.3), ("c", 0.2)):
        assert abs(shares[variant] - expected) < 0.02


def test_zero_and_hundred_percent():
    nobody = Flag(name="f", enabled=True, rollout=0)
    everybody = Flag(name="f", enabled=True, rollout=100)
    assert not any(is_enabled(nobody, s, "diner", "penang") for s in IDS[:5000])
    assert all(is_enabled(everybody, s, None, None) for s in IDS[:5000])


def test_raising_a_rollout_keeps_everyone_already_in():
    at_10 = {s for s in IDS[:20_000] if in_rollout("f", s, 10)}
    at_30 = {s for s in IDS[:20_000] if in_rollout("f", s, 30)}
    assert at_10 < at_30


def test_targeting_by_user_role_and_city():
    flag = Flag(name="f", enabled=True, users=frozenset({42}), roles=frozenset({"admin"}),
                cities=frozenset({"penang"}))  # fmt: skip
    assert is_enabled(flag, "42", "diner", None)
    assert not is_enabled(flag, "43", "diner", None)
    assert is_enabled(flag, "43", "admin", None)
    assert is_enabled(flag, "43", "diner", "penang")
    assert not is_enabled(flag, "43", "diner", "ipoh")
    assert not is_enabled(flag, "a42", None, None)  # a visitor id is never a user id


def test_off_beats_every_rule_and_default_catches_the_rest():
    off = Flag(name="f", enabled=False, rollout=100, users=frozenset({42}), default=True)
    assert not is_enabled(off, "42", "admin", "penang")
    on_by_default = Flag(name="f", enabled=True, rollout=0, default=True)
    assert all(is_enabled(on_by_default, s, None, None) for s in IDS[:1000])


def test_answers_are_sticky_and_differ_between_flags():
    flag = Flag(name="f", enabled=True, rollout=50)
    first = [is_enabled(flag, s, None, None) for s in IDS[:2000]]
    assert first == [is_enabled(flag, s, None, None) for s in IDS[:2000]]
    other = Flag(name="g", enabled=True, rollout=50)
    assert first != [is_enabled(other, s, None, None) for s in IDS[:2000]]


def test_assignment_is_the_same_in_another_process_with_another_hash_seed():
    exp = Experiment(name="hero", enabled=True, variants=(Variant("a", 1), Variant("b", 1)))
    here = [assign(exp, s) for s in IDS[:200]]
    script = (
        "from bellyfed.flags.evaluate import Experiment, Variant, assign\n"
        "exp = Experiment(name='hero', enabled=True, variants=(Variant('a', 1), Variant('b', 1)))\n"
        "print(''.join(assign(exp, f'a{i:016x}') for i in range(200)))\n"
    )
    for seed in ("1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                             text=True, check=True).stdout.strip()  # fmt: skip
        assert out == "".join(here)
    assert stable_hash("hero", "a1") == int.from_bytes(sha256(b"hero:a1").digest()[:8], "big")


def test_a_stopped_experiment_serves_its_control():
    exp = Experiment(name="hero", enabled=False, variants=(Variant("a", 0), Variant("b", 1)))
    assert {assign(exp, s) for s in IDS[:500]} == {"a"}
    running = Experiment(name="hero", enabled=True, variants=(Variant("a", 0), Variant("b", 1)))
    assert {assign(running, s) for s in IDS[:500]} == {"b"}  # a zero weight gets nobody


def test_weights_must_be_non_negative_and_not_all_zero():
    assert valid_weights([50, 30, 20])
    assert valid_weights([0, 1])
    assert not valid_weights([0, 0])
    assert not valid_weights([60, -10])
    assert not valid_weights([])
