"""``flask ops``: small operator commands."""

from __future__ import annotations

import click
import psycopg
import sqlalchemy as sa
from flask import current_app
from flask.cli import AppGroup
from psycopg import sql

ops_cli = AppGroup("ops", help="Operator commands.")


@ops_cli.command("create-database")
def create_database_command() -> None:
    """Create the database named in DATABASE_URL if it does not exist yet."""
    url = sa.make_url(current_app.config["SQLALCHEMY_DATABASE_URI"])
    name = url.database
    server_url = url.set(drivername="postgresql", database="postgres")
    server = server_url.render_as_string(hide_password=False)
    try:
        with psycopg.connect(server, autocommit=True, connect_timeout=5) as conn:
            query = "SELECT 1 FROM pg_database WHERE datname = %s"
            if conn.execute(query, (name,)).fetchone():
                click.echo(f"Database {name!r} already exists.")
                return
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.OperationalError as exc:
        where = f"{url.host}:{url.port}"
        raise click.ClickException(f"Cannot reach PostgreSQL at {where}: {exc}") from exc
    click.echo(f"Created database {name!r}.")
