"""Accounts: users, profiles, preferences and sign-in."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Blueprint, Flask

from bellyfed.extensions import db, login_manager

if TYPE_CHECKING:
    from bellyfed.accounts.models import User

bp = Blueprint("accounts", __name__)


def init_app(app: Flask) -> None:
    """Wire Flask-Login to the users table."""
    login_manager.init_app(app)

    @login_manager.user_loader
    def load_user(user_id: str) -> User | None:
        from bellyfed.accounts.models import User

        if not user_id.isdigit():
            return None
        user = db.session.get(User, int(user_id))
        return user if user is not None and user.is_active else None


from bellyfed.accounts import views  # noqa: E402, F401  (registers the routes on bp)
