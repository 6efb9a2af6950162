"""Every periodic task, in one place: name -> task, interval (seconds) and options."""

BEAT_SCHEDULE: dict[str, dict] = {
    "worker-heartbeat": {
        "task": "worker.tasks.heartbeat",
        "schedule": 15.0,
        # A heartbeat older than its successor is worthless; don't let them queue up.
        "options": {"expires": 14},
    },
    "flush-events": {
        "task": "worker.tasks.flush_events",
        "schedule": 5.0,
        # Longer than the retries' backoff (2 + 4 + 8 s), short enough not to pile up.
        "options": {"expires": 60},
    },
    "trending": {
        "task": "worker.tasks.recompute_trending",
        "schedule": 300.0,
        "options": {"expires": 290},
    },
    "rollup-today": {
        "task": "worker.tasks.rollup_today",
        "schedule": 300.0,
        "options": {"expires": 290},
    },
    # Ranking changes queue their own boards; this catches up any a broker outage left stale
    # (about 10 s of one worker at 1.4M rankings: bench/leaderboards.py).
    "recompute-leaderboards": {
        "task": "worker.tasks.recompute_leaderboards",
        "schedule": 900.0,
        "options": {"expires": 890},
    },
    "refresh-search-cache": {
        "task": "worker.tasks.refresh_search_cache",
        "schedule": 60.0,
        # A refresh older than its successor would redo the same work; let it lapse.
        "options": {"expires": 55},
    },
}
