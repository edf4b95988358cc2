"""The Alembic migrations build exactly the models' schema, and an older database keeps its data."""
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from web.db import Base, alembic_config, load_models, make_engine, migrate

load_models()


def test_migrated_schema_matches_the_models(database_url):
    engine = make_engine(database_url)
    migrate(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
        versions = set(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
    engine.dispose()
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    assert diff == [] and versions == set(heads) and heads == ["0006"]  # one line of history


def test_database_created_before_migrations_keeps_its_data(database_url):
    from alembic import command

    engine = make_engine(database_url)
    with engine.begin() as conn:  # the schema of the first release, made before migrations were tracked
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
        conn.execute(text("DROP TABLE alembic_version"))
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO sessions (id, channel, status, state, elements, created_at, updated_at) "
                          "VALUES ('s1', 'web', 'bot', '{}', '{}', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
    migrate(engine)
    migrate(engine)  # a second run is a no-op
    with engine.connect() as conn:
        assert conn.execute(text("SELECT id FROM sessions")).scalars().all() == ["s1"]
        assert "alembic_version" in inspect(conn).get_table_names()
    engine.dispose()
