"""Thin Celery tasks: each calls a plain function in ``bellyfed`` that tests call directly."""

from celery import shared_task

from bellyfed.ops.heartbeat import record_heartbeat
from bellyfed.redis_client import get_redis


@shared_task(
    name="worker.tasks.heartbeat",
    autoretry_for=(ConnectionError,),
    retry_backoff=True,
    max_retries=3,
)
def heartbeat() -> float:
    """Record that a worker is alive and beat is scheduling (runs inside an app context)."""
    return record_heartbeat(get_redis())
