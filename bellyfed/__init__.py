"""Bellyfed: a dish-first restaurant guide."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

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
    register_extensions(app)
    register_blueprints(app)
    register_commands(app)
    return app


def register_extensions(app: Flask) -> None:
    """Bind the extension objects and the Celery app to this Flask app."""
    import bellyfed.all_models  # noqa: F401  (the metadata must be complete before migrations run)
    from bellyfed import accounts
    from bellyfed.core import formatting, web
    from bellyfed.extensions import db, migrate
    from bellyfed.queue import celery_init_app

    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), compare_type=True)
    accounts.init_app(app)
    web.init_app(app)
    formatting.init_app(app)
    celery_init_app(app)


def register_blueprints(app: Flask) -> None:
    """Attach each feature's blueprint."""
    from bellyfed.accounts import bp as accounts_bp
    from bellyfed.leaderboards import bp as leaderboards_bp
    from bellyfed.ops import bp as ops_bp
    from bellyfed.photos import bp as photos_bp
    from bellyfed.rankings import bp as rankings_bp
    from bellyfed.restaurants import bp as restaurants_bp
    from bellyfed.reviews import bp as reviews_bp
    from bellyfed.search import bp as search_bp
    from bellyfed.votes import bp as votes_bp

    for blueprint in (accounts_bp, leaderboards_bp, ops_bp, photos_bp, rankings_bp,
                      restaurants_bp, reviews_bp, search_bp, votes_bp):  # fmt: skip
        app.register_blueprint(blueprint)


def register_commands(app: Flask) -> None:
    """Attach the ``flask`` CLI groups."""
    from bellyfed.demo.commands import demo_cli
    from bellyfed.ops.commands import ops_cli

    app.cli.add_command(demo_cli)
    app.cli.add_command(ops_cli)
