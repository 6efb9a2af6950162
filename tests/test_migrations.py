"""One Alembic chain: it builds the whole schema, matches the models, and unwinds to nothing."""

import flask_migrate
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from bellyfed.extensions import db
from tests.conftest import MIGRATIONS, make_test_app, temporary_database

LEFTOVERS = """
SELECT 'relation ' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'public' AND c.relname NOT IN ('alembic_version', 'alembic_version_pkc')
UNION ALL
SELECT 'function ' || p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = 'public'
UNION ALL
SELECT 'type ' || t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
 WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd', 'c') AND t.typrelid = 0
UNION ALL
SELECT 'extension ' || extname FROM pg_extension WHERE extname <> 'plpgsql'
"""


def test_the_chain_has_one_head():
    script = ScriptDirectory(MIGRATIONS)
    assert len(script.get_heads()) == 1


def test_upgrade_matches_models_and_downgrade_leaves_an_empty_schema():
    with temporary_database("bellyfed_migrations") as url:
        app = make_test_app(url)
        with app.app_context():
            flask_migrate.upgrade(directory=MIGRATIONS)
            tables = set(sa.inspect(db.engine).get_table_names())
            assert set(db.metadata.tables) <= tables
            with db.engine.connect() as conn:
                assert compare_metadata(MigrationContext.configure(conn), db.metadata) == []

            flask_migrate.downgrade(directory=MIGRATIONS, revision="base")
            with db.engine.connect() as conn:
                assert conn.execute(sa.text(LEFTOVERS)).scalars().all() == []
                assert conn.execute(sa.text("SELECT count(*) FROM alembic_version")).scalar() == 0

            flask_migrate.upgrade(directory=MIGRATIONS)  # and back up again, cleanly
            assert set(db.metadata.tables) <= set(sa.inspect(db.engine).get_table_names())
            db.engine.dispose()
