"""The Celery worker and beat entry point: ``celery -A worker.app worker`` / ``... beat``.

Creating the Flask app here is deliberate: this module is a process entry point, like wsgi.py.
"""

from bellyfed import create_app
from bellyfed.ops.task_stats import connect_task_signals
from worker.schedule import BEAT_SCHEDULE

flask_app = create_app()
celery_app = flask_app.extensions["celery"]
celery_app.conf.beat_schedule = BEAT_SCHEDULE
celery_app.conf.include = ["worker.tasks"]
# Task durations and outcomes, kept in Redis for the web's /metrics (bellyfed/ops/task_stats.py).
connect_task_signals(flask_app)
