"""Alembic environment: runs on the connection handed over by web.db.migrate."""
from alembic import context

from web.db import Base, load_models

load_models()  # every module's tables on Base.metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True, compare_type=True)
with context.begin_transaction():
    context.run_migrations()
