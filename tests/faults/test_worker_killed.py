"""The Celery worker SIGKILLed again and again in the middle of the view flush (and of the
trending recompute): a pool process alone (as the out-of-memory killer would) or the whole worker
(as a lost host would), restarted as a process manager would. Afterwards every view is counted
exactly once, in DynamoDB, in PostgreSQL and in the live tallies, and nothing is left stuck."""

from __future__ import annotations

import os
import random
import signal
import time
from collections import Counter

from bellyfed.analytics import keys
from tests.faults.conftest import LEDGER, Stack, fault
from tests.faults.services import wait_until

RECOMPUTES = ("worker.tasks.recompute_trending", "worker.tasks.recompute_leaderboards")
ROUNDS = ("pool process", "whole worker", "pool process", "whole worker")
PER_ROUND = 80  # restaurants viewed once each per round: ~160 DynamoDB writes, seconds on moto


def live_tallies(stack: Stack) -> Counter[int]:
    """The flush's per-hour view tallies in Redis (what trending and the dashboard read)."""
    client, totals = stack.redis_client(), Counter()
    for key in client.scan_iter(f"{keys.TOP}views:*"):
        for member, score in client.zrange(key, 0, -1, withscores=True):
            totals[int(member)] += int(score)
    return totals


def batch_in_flight(stack: Stack) -> bool:
    client = stack.redis_client()
    return bool(client.exists(keys.LOCK)) and bool(list(client.scan_iter(f"{keys.BATCH}*")))


def test_worker_killed_mid_flush_repeatedly_loses_and_doubles_nothing(healthy):
    stack = healthy
    rng = random.Random(9)
    expected = stack.view_totals()
    tallies_before = live_tallies(stack)
    sent: Counter[int] = Counter()
    mid_batch, restarts = 0, stack.worker.starts
    for round_number, how in enumerate(ROUNDS):
        start = (round_number * PER_ROUND) % len(stack.restaurants)
        viewed = (stack.restaurants * 2)[start : start + PER_ROUND]
        before = dict(expected)
        stack.view_all(viewed, expected)
        sent.update({r: expected[r] - before.get(r, 0) for r, _ in viewed})
        stack.wait_for_batches()
        if stack.worker.starts > restarts:
            stack.worker.wait_ready()  # restarted while the views were made
            restarts = stack.worker.starts

        def flushing() -> bool:
            if batch_in_flight(stack):
                return True
            stack.send("worker.tasks.flush_events")  # beat's job; a killed holder's lock lapses
            return False

        wait_until(flushing, 30, f"round {round_number}: a flush under way", every=0.3)
        if round_number in (1, 2):  # the other pool process is busy recomputing when it dies
            stack.send(RECOMPUTES[round_number - 1])
        time.sleep(rng.uniform(0.1, 0.6))
        mid_batch += batch_in_flight(stack)
        fault(f"worker SIGKILL ({how})")
        if how == "pool process":
            for pid in stack.worker.pool():
                os.kill(pid, signal.SIGKILL)
            wait_until(lambda: len(stack.worker.pool()) == 2, 30, "the pool replaced")
        else:
            stack.worker.kill(signal.SIGKILL)
            stack.worker.start_soon()  # as a process manager would; ready by the next round
    if stack.worker.starts > restarts:
        stack.worker.wait_ready()
    assert mid_batch >= len(ROUNDS) // 2, f"only {mid_batch} kills landed mid-batch"
    LEDGER["worker kills mid-batch"] += mid_batch

    # Beat keeps queueing flushes; the lock a killed flusher held lapses; the batches it left
    # are re-driven in order. Exactly the views sent, once each, everywhere.
    stack.flush_until(expected, 90)
    in_postgres = stack.view_counts_in_postgres()
    assert {r: in_postgres.get(r) for r in expected} == expected
    tallies = live_tallies(stack)
    assert {r: tallies[r] - tallies_before[r] for r in sent} == dict(sent)
    # Nothing stuck: no lock, no batch, no buffer (flush_until), the queue empties, and the
    # recomputes killed along the way run to completion when queued again.
    client = stack.redis_client()
    wait_until(lambda: client.llen("celery") == 0, 30, "the task queue emptied")
    for task in RECOMPUTES:
        runs = stack.task_runs(task)
        stack.send(task)
        wait_until(lambda t=task, r=runs: stack.task_runs(t) > r, 60, f"{task} after the kills")
    unacked = client.hlen("unacked")
    LEDGER["tasks awaiting redelivery after a whole-worker kill"] += unacked
    print(f"kills: {len(ROUNDS)}, mid-batch: {mid_batch}, unacked awaiting redelivery: {unacked}")
