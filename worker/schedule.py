"""Every periodic task, in one place: name -> task and interval (seconds)."""

BEAT_SCHEDULE: dict[str, dict] = {
    "worker-heartbeat": {
        "task": "worker.tasks.heartbeat",
        "schedule": 15.0,
        # A heartbeat older than its successor is worthless; don't let them queue up.
        "options": {"expires": 14},
    },
}
