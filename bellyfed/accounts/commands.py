"""``flask users make-admin <email>``: give an account access to the operator pages.
``flask users reset-two-factor <email>``: turn two-step sign-in off for someone who lost both
their phone and their recovery codes (after checking it is them, outside the app).
``flask users pepper-hashes``: pepper the hashes from before the pepper, without their passwords.
``flask users key-report``: what each pepper and two-step key still protects, so a retired one
is dropped only when nothing needs it (docs/operations.md, "Secrets")."""

from __future__ import annotations

from collections import Counter

import click
from cryptography.fernet import InvalidToken
from flask import current_app
from sqlalchemy import ColumnElement, bindparam, case, func, literal, or_, select, update

from bellyfed.accounts import bp, two_factor
from bellyfed.accounts.models import TwoFactor, User
from bellyfed.accounts.passwords import PEPPER_TAG, WRAP_TAG, pepper_id, wrap_bare_hash
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


def _tagged(tag: str) -> ColumnElement[bool]:
    """A stored hash of the form ``<tag>:<id>:<rest>`` (as ``passwords._split`` reads it)."""
    return User.password_hash.like(f"{tag}:_%:%")


@bp.cli.command("pepper-hashes")
@click.option("--batch-size", type=click.IntRange(min=1), default=1000, show_default=True,
              help="accounts per transaction")  # fmt: skip
def pepper_hashes_command(batch_size: int) -> None:
    """Wrap every hash from before the pepper with the current pepper (no password needed; the
    next log-in replaces it with a normal one). Safe to run again: it only touches bare hashes."""
    users = User.__table__
    write = (
        update(users)
        .where(users.c.id == bindparam("row_id"))
        .values(password_hash=bindparam("wrapped"), updated_at=users.c.updated_at)
    )  # updated_at kept: not a change the account's owner made
    wrapped, unreadable, after = 0, [], 0
    while True:
        # Locked until the commit: a log-in or password change on these rows waits for it, then
        # writes its own (newer) hash over ours, never the other way round.
        rows = db.session.execute(
            select(User.id, User.password_hash)
            .where(User.id > after, ~or_(_tagged(PEPPER_TAG), _tagged(WRAP_TAG)))
            .order_by(User.id)
            .limit(batch_size)
            .with_for_update()
        ).all()
        if not rows:
            break
        batch = []
        for row_id, password_hash in rows:
            new = wrap_bare_hash(password_hash)
            if new is None:
                unreadable.append(row_id)
            else:
                batch.append({"row_id": row_id, "wrapped": new})
        if batch:
            db.session.execute(write, batch)
        db.session.commit()
        wrapped += len(batch)
        after = rows[-1].id
        click.echo(f"... {wrapped} wrapped (up to user id {after})")
    click.echo(f"Wrapped {wrapped} hash{'es' * (wrapped != 1)} from before the pepper.")
    if unreadable:
        click.echo(
            f"Left alone, not argon2 hashes ({len(unreadable)}): user ids {_some(unreadable)}"
        )


@bp.cli.command("key-report")
def key_report_command() -> None:
    """How many password hashes each pepper made and which key each two-step secret is under:
    a retired pepper or key can be dropped once its count is 0."""
    config = current_app.config
    current = pepper_id(config["PASSWORD_PEPPER"])
    roles = {current: "current (PASSWORD_PEPPER)"}
    for number, pepper in enumerate(config.get("PASSWORD_PEPPERS_RETIRED", ()), 1):
        roles.setdefault(pepper_id(pepper), f"retired #{number} (PASSWORD_PEPPERS_RETIRED)")
    counts = _hash_counts()
    click.echo("Password hashes by pepper id (peppered / wrapped by pepper-hashes):")
    for key in [*roles, *sorted({key for _, key in counts if key and key not in roles})]:
        peppered, wrapped = counts[PEPPER_TAG, key], counts[WRAP_TAG, key]
        role = roles.get(key, "UNKNOWN, these accounts cannot log in")
        droppable = key in roles and key != current and not peppered + wrapped
        click.echo(f"  {key}  {role}: {peppered} / {wrapped}" + "  -> can be dropped" * droppable)
    click.echo(f"  bare (from before the pepper; run pepper-hashes): {counts['bare', '']}")
    click.echo(f"  unreadable (no password logs in): {counts['unreadable', '']}")

    keys = ["current (TOTP_ENCRYPTION_KEY)"] + [
        f"retired #{number} (TOTP_ENCRYPTION_KEYS_RETIRED)"
        for number in range(1, len(config.get("TOTP_ENCRYPTION_KEYS_RETIRED", ())) + 1)
    ]
    under, undecryptable = _secret_counts()
    click.echo("Two-step secrets by key (each moves to the current key at its next use):")
    for index, name in enumerate(keys):
        droppable = index > 0 and not under[index]
        click.echo(f"  {name}: {under[index]}" + "  -> can be dropped" * droppable)
    listed = f" (user ids {_some(undecryptable)})" if undecryptable else ""
    click.echo(f"  undecryptable: {len(undecryptable)}{listed}")


def _some(ids: list[int], shown: int = 20) -> str:
    return ", ".join(map(str, ids[:shown])) + (", ..." if len(ids) > shown else "")


def _hash_counts() -> Counter[tuple[str, str]]:
    """(kind, pepper id) -> accounts, counted by the database."""
    bare = User.password_hash.like("$argon2%")
    kind = case((_tagged(PEPPER_TAG), literal(PEPPER_TAG)), (_tagged(WRAP_TAG), literal(WRAP_TAG)),
                (bare, literal("bare")), else_=literal("unreadable"))  # fmt: skip
    key = case((or_(_tagged(PEPPER_TAG), _tagged(WRAP_TAG)),
                func.split_part(User.password_hash, ":", 2)), else_=literal(""))  # fmt: skip
    rows = db.session.execute(select(kind, key, func.count()).group_by(kind, key))
    return Counter({(row[0], row[1]): row[2] for row in rows})


def _secret_counts() -> tuple[Counter[int], list[int]]:
    """Two-step secrets per key (0: the current one, then the retired in order), and the users
    whose secret no configured key decrypts."""
    fernets = two_factor.fernets()  # the current key first, then the retired ones
    under: Counter[int] = Counter()
    undecryptable = []
    query = select(TwoFactor.user_id, TwoFactor.secret).order_by(TwoFactor.user_id)
    for user_id, secret in db.session.execute(query.execution_options(yield_per=1000)):
        for index, fernet in enumerate(fernets):
            try:
                fernet.decrypt(secret.encode())
            except InvalidToken:
                continue
            under[index] += 1
            break
        else:
            undecryptable.append(user_id)
    return under, undecryptable
