"""Bellyfed: a dish-first restaurant guide."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from bellyfed.config import load_config

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the Flask app; ``config`` overrides what the environment says (tests use it)."""
    app = Flask(
        __name__,
        static_folder=str(PROJECT_ROOT / "static"),
        template_folder=str(PROJECT_ROOT / "templates"),
    )
    app.config.from_mapping(load_config())
    if config:
        app.config.from_mapping(config)
    from bellyfed.core.web import register_converters

    register_converters(app)
    if app.config.get("TRUSTED_PROXIES"):
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    register_extensions(app)
    register_blueprints(app)
    from bellyfed import api

    api.init_app(app)
    register_commands(app)
    return app


def register_extensions(app: Flask) -> None:
    """Bind the extension objects and the Celery app to this Flask app."""
    import bellyfed.all_models  # noqa: F401  (the metadata must be complete before migrations run)
    from bellyfed import accounts, flags, ops
    from bellyfed.analytics import events
    from bellyfed.core import formatting, pagecache, web
    from bellyfed.extensions import db, migrate
    from bellyfed.queue import celery_init_app

    db.init_app(app)
    ops.init_app(app)  # first: its request timer must run before every other feature's hooks
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), compare_type=True)
    accounts.init_app(app)
    if app.config.get("SESSION_BACKEND", "dynamodb") == "dynamodb":
        from bellyfed.accounts.sessions import DynamoSessionInterface

        app.session_interface = DynamoSessionInterface()
    events.init_app(app)
    flags.init_app(app)
    web.init_app(app)
    formatting.init_app(app)
    pagecache.init_app(app)
    celery_init_app(app)


FEATURES = (
    "accounts", "admin", "leaderboards", "ops", "photos", "rankings", "restaurants", "reviews",
    "search", "votes",
)  # fmt: skip


def register_blueprints(app: Flask) -> None:
    """Attach each feature's blueprint; importing its views module adds the routes to it.

    Views are imported here, not by the feature's ``__init__``, so that importing a feature's
    models never drags in every other feature's views (and their import cycles).
    """
    for feature in FEATURES:
        for module in (
            "views",
            "commands",
        ):  # commands: the blueprint's own `flask <feature>` group
            if importlib.util.find_spec(f"bellyfed.{feature}.{module}"):
                importlib.import_module(f"bellyfed.{feature}.{module}")
        app.register_blueprint(importlib.import_module(f"bellyfed.{feature}").bp)


def register_commands(app: Flask) -> None:
    """Attach the ``flask`` CLI groups."""
    from bellyfed.backup.commands import backup_cli
    from bellyfed.data.commands import data_cli
    from bellyfed.demo.commands import demo_cli
    from bellyfed.dynamo.commands import dynamo_cli
    from bellyfed.ops.commands import ops_cli
    from bellyfed.ops.cost import cost_cli

    for group in (backup_cli, cost_cli, data_cli, demo_cli, dynamo_cli, ops_cli):
        app.cli.add_command(group)
