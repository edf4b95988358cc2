"""Alembic migrations of the chat service's database (`web.db.migrate` runs them)."""
