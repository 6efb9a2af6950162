"""``flask users make-admin <email>``: give an account access to the operator pages.
``flask users reset-two-factor <email>``: turn two-step sign-in off for someone who lost both
their phone and their recovery codes (after checking it is them, outside the app)."""

from __future__ import annotations

import click
from sqlalchemy import func, select

from bellyfed.accounts import bp, two_factor
from bellyfed.accounts.models import User
from bellyfed.dynamo import sessions as session_storage
from bellyfed.extensions import db


@bp.cli.command("make-admin")
@click.argument("email")
def make_admin_command(email: str) -> None:
    """Make the account with this email an operator (admin); its sessions end, so the new role
    starts with a fresh sign-in (and a fresh session id)."""
    user = _by_email(email)
    if user.role == "admin":
        click.echo(f"{user.username} is already an operator.")
        return
    ended = end_all_sessions(user.id)
    user.role = "admin"
    db.session.commit()
    click.echo(f"{user.username} is now an operator: /admin/dashboard")
    click.echo(f"Ended {ended} session{'s' * (ended != 1)}: they sign in again to use the role.")


@bp.cli.command("reset-two-factor")
@click.argument("email")
def reset_two_factor_command(email: str) -> None:
    """Turn two-step sign-in off for the account with this email, and end its sessions."""
    user = _by_email(email)
    if not two_factor.is_enabled(user):
        click.echo(f"{user.username} does not have two-step sign-in on.")
        return
    two_factor.disable(user)
    ended = end_all_sessions(user.id)
    db.session.commit()
    sessions = f"{ended} session{'s' * (ended != 1)}"
    click.echo(f"Two-step sign-in is off for {user.username}; ended {sessions}.")
    if user.is_admin:
        click.echo("As an operator, they set it up again before the dashboard opens.")


def _by_email(email: str) -> User:
    user = db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
    if user is None:
        raise click.ClickException(f"No account with the email {email!r}.")
    return user


def end_all_sessions(user_id: int) -> int:
    """End every session of the user (a privilege change: no id from before it lives on)."""
    ids = [stored.id for stored in session_storage.for_user(user_id)]
    session_storage.delete_many(ids)
    return len(ids)
