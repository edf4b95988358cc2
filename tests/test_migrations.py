"""The Alembic migrations build exactly the models' schema, and an older database keeps its data."""
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from web.db import Base, make_engine, migrate
from web.ratelimit import RateCounter  # noqa: F401 - its table belongs to the schema


def test_migrated_schema_matches_the_models(database_url):
    engine = make_engine(database_url)
    migrate(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
        version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    engine.dispose()
    assert diff == [] and version == "0001"


def test_database_created_before_migrations_keeps_its_data(database_url):
    engine = make_engine(database_url)
    Base.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO sessions (id, channel, status, state, elements, created_at, updated_at) "
                          "VALUES ('s1', 'web', 'bot', '{}', '{}', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
    migrate(engine)
    migrate(engine)  # a second run is a no-op
    with engine.connect() as conn:
        assert conn.execute(text("SELECT id FROM sessions")).scalars().all() == ["s1"]
        assert "alembic_version" in inspect(conn).get_table_names()
    engine.dispose()
