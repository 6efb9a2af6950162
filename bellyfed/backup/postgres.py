"""PostgreSQL side: pg_dump / pg_restore, and per-table row counts and content checksums.

The dump and the checksums read the same exported snapshot, so the manifest describes exactly the
rows in the dump even while the app keeps writing.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import sqlalchemy as sa
from flask import current_app
from psycopg import sql

from bellyfed.backup import BackupError

# Row text must not depend on the session: timestamps in UTC, one date style, exact floats.
CHECKSUM_SETTINGS = (
    "SET TimeZone = 'UTC'",
    "SET DateStyle = 'ISO, YMD'",
    "SET IntervalStyle = 'postgres'",
    "SET extra_float_digits = 1",
    "SET bytea_output = 'hex'",
    "SET statement_timeout = 0",
)
USER_TABLES = """
SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')
ORDER BY 1, 2
"""
# Order-independent and in constant memory: the sums of each row's md5, as two 64-bit halves.
TABLE_DIGEST = """
SELECT count(*),
       coalesce(sum(('x' || substr(h, 1, 16))::bit(64)::bigint::numeric), 0),
       coalesce(sum(('x' || substr(h, 17, 16))::bit(64)::bigint::numeric), 0)
FROM (SELECT md5(t::text) AS h FROM {table} t) rows
"""
DUMP_FILE = "postgres.dump"


@dataclass(frozen=True)
class Target:
    """A database as libpq sees it: the URL without its password, which travels apart."""

    url: str
    password: str | None
    label: str  # host:port/database, safe to print

    def env(self) -> dict[str, str]:
        env = {**os.environ, "PGCONNECT_TIMEOUT": "10"}
        if self.password is not None:
            env["PGPASSWORD"] = self.password
        return env


def target(database_url: str) -> Target:
    """Turn the app's SQLAlchemy URL (``postgresql+psycopg://``) into one libpq tools accept."""
    try:
        url = sa.make_url(database_url)
    except sa.exc.ArgumentError as exc:
        raise BackupError(f"Not a database URL: {database_url!r}.") from exc
    if url.get_backend_name() != "postgresql" or not url.database:
        raise BackupError("The database URL must be postgresql://user@host:port/database.")
    label = f"{url.host or 'localhost'}:{url.port or 5432}/{url.database}"
    plain = url.set(drivername="postgresql", password=None)
    return Target(plain.render_as_string(hide_password=False), url.password, label)


def connect(db: Target) -> psycopg.Connection:
    """A psycopg connection, or a BackupError that says which database did not answer."""
    try:
        return psycopg.connect(db.url, password=db.password, connect_timeout=10)
    except psycopg.Error as exc:
        message = " ".join(str(exc).split())  # libpq's multi-line text, on one line
        if "does not exist" in message and "database" in message:
            message += f". Create it first: createdb {db.label.rsplit('/', 1)[-1]}"
        raise BackupError(f"Cannot connect to PostgreSQL at {db.label}: {message}") from exc


def tool(name: str) -> str:
    """The path of ``pg_dump`` / ``pg_restore`` (POSTGRES_BIN_DIR, else the PATH)."""
    bin_dir = current_app.config.get("POSTGRES_BIN_DIR") or None
    found = shutil.which(name, path=bin_dir)
    if not found:
        where = f"in {bin_dir} (POSTGRES_BIN_DIR)" if bin_dir else "on the PATH"
        raise BackupError(
            f"{name} was not found {where}: install postgresql-client (the same "
            "major version as the server, or newer)."
        )
    return found


def tool_major(path: str) -> tuple[int, str]:
    """The major version of a PostgreSQL client program, and its full version text."""
    text = _run([path, "--version"], "report its version", os.environ).strip()
    match = re.search(r"(\d+)(?:\.\d+)?", text)
    if not match:
        raise BackupError(f"Cannot tell the version of {path} from {text!r}.")
    return int(match.group(1)), text


def server_version(conn: psycopg.Connection) -> tuple[int, str]:
    """The server's major version and its version string."""
    number = int(conn.execute("SHOW server_version_num").fetchone()[0])
    return number // 10000, conn.execute("SHOW server_version").fetchone()[0]


def check_pg_dump(conn: psycopg.Connection) -> tuple[str, int]:
    """pg_dump's path and major version, once it is known to be no older than the server (it
    refuses to dump a newer server)."""
    path = tool("pg_dump")
    major, text = tool_major(path)
    server_major, server_text = server_version(conn)
    if major < server_major:
        raise _too_old(text, f"the server runs PostgreSQL {server_text}", server_major)
    return path, major


def check_pg_restore(archive_major: int) -> str:
    """pg_restore's path, once it is known to read archives of that pg_dump major version
    (an older server is fine: restoring into a newer one is the usual upgrade path)."""
    path = tool("pg_restore")
    major, text = tool_major(path)
    if major < archive_major:
        raise _too_old(text, f"the backup was written by pg_dump {archive_major}", archive_major)
    return path


def _too_old(text: str, why: str, needed: int) -> BackupError:
    return BackupError(
        f"Version mismatch: {text} is too old, {why}. Install "
        f"postgresql-client-{needed} (or newer), or point POSTGRES_BIN_DIR at its "
        "bin directory."
    )


@contextmanager
def snapshot(db: Target) -> Iterator[tuple[psycopg.Connection, str]]:
    """A read-only repeatable-read transaction and its exported snapshot id (for pg_dump)."""
    with connect(db) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        for statement in CHECKSUM_SETTINGS:
            conn.execute(statement)
        snapshot_id = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
        yield conn, snapshot_id
        conn.rollback()


def dump(db: Target, pg_dump: str, snapshot_id: str, path: Path) -> None:
    """``pg_dump --format=custom`` of the snapshot into ``path``."""
    _run(
        [
            pg_dump,
            "--format=custom",
            f"--snapshot={snapshot_id}",
            f"--file={path}",
            f"--dbname={db.url}",
        ],
        f"dump {db.label}",
        db.env(),
    )


def list_archive(pg_restore: str, path: Path) -> int:
    """How many entries ``pg_restore --list`` reads from the archive (raises if unreadable)."""
    listing = _run([pg_restore, "--list", str(path)], f"read {path.name}", os.environ)
    return sum(1 for line in listing.splitlines() if line and not line.startswith(";"))


def restore(db: Target, pg_restore: str, path: Path) -> None:
    """Load the archive into an empty database, all or nothing."""
    _run(
        [
            pg_restore,
            "--no-owner",
            "--exit-on-error",
            "--single-transaction",
            f"--dbname={db.url}",
            str(path),
        ],
        f"restore into {db.label}",
        db.env(),
    )


def table_checksums(conn: psycopg.Connection) -> dict[str, dict[str, object]]:
    """``{"schema.table": {"rows": n, "checksum": hex}}`` for every user table."""
    for statement in CHECKSUM_SETTINGS:
        conn.execute(statement)
    result: dict[str, dict[str, object]] = {}
    for schema, name in conn.execute(USER_TABLES).fetchall():
        query = sql.SQL(TABLE_DIGEST).format(table=sql.Identifier(schema, name))
        rows, high, low = conn.execute(query).fetchone()
        checksum = hashlib.sha256(f"{rows}:{high}:{low}".encode()).hexdigest()
        result[f"{schema}.{name}"] = {"rows": rows, "checksum": checksum}
    return result


def tables_with_rows(conn: psycopg.Connection) -> tuple[int, list[str]]:
    """How many user tables the database has, and the names of those holding rows."""
    tables = conn.execute(USER_TABLES).fetchall()
    full = []
    for schema, name in tables:
        query = sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(sql.Identifier(schema, name))
        if conn.execute(query).fetchone()[0]:
            full.append(f"{schema}.{name}")
    return len(tables), full


def alembic_revision(conn: psycopg.Connection) -> str | None:
    """The migration the database is at, if it has an ``alembic_version`` table."""
    if not conn.execute("SELECT to_regclass('alembic_version')").fetchone()[0]:
        return None
    row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    return row[0] if row else None


def _run(command: list[str], what: str, env: dict[str, str]) -> str:
    name = Path(command[0]).name
    try:
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)  # noqa: S603
    except OSError as exc:
        raise BackupError(f"Cannot run {name}: {exc}") from exc
    if done.returncode == 0:
        return done.stdout
    message = done.stderr.strip() or f"exit status {done.returncode}"
    if "version mismatch" in message or "unsupported version" in message:
        raise BackupError(
            f"Version mismatch: {message}. Install a postgresql-client at least as "
            "new as the server and the backup (POSTGRES_BIN_DIR)."
        )
    raise BackupError(f"{name} could not {what}: {message}")
