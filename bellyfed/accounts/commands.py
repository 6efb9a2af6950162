"""``flask users make-admin <email>``: give an account access to the operator pages."""

from __future__ import annotations

import click
from sqlalchemy import func, select

from bellyfed.accounts import bp
from bellyfed.accounts.models import User
from bellyfed.extensions import db


@bp.cli.command("make-admin")
@click.argument("email")
def make_admin_command(email: str) -> None:
    """Make the account with this email an operator (admin)."""
    user = db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
    if user is None:
        raise click.ClickException(f"No account with the email {email!r}.")
    if user.role == "admin":
        click.echo(f"{user.username} is already an operator.")
        return
    user.role = "admin"
    db.session.commit()
    click.echo(f"{user.username} is now an operator: /admin/dashboard")
