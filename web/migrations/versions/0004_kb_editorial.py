"""Editorial knowledge: entries with their lifecycle status and an append-only revision history.

Revision ID: 0004
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0002"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "kb_entries",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("published", sa.JSON(), nullable=True),
        sa.Column("live", sa.String(16), nullable=False),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
    )
    op.create_index("ix_kb_entries_status", "kb_entries", ["status"])
    op.create_index("ix_kb_entries_live", "kb_entries", ["live"])
    op.create_index("ix_kb_entries_updated_at", "kb_entries", ["updated_at"])
    op.create_table(
        "kb_revisions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("entry_id", sa.String(64), sa.ForeignKey("kb_entries.id"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.UniqueConstraint("entry_id", "version"),
    )
    op.create_index("ix_kb_revisions_entry_id", "kb_revisions", ["entry_id"])


def downgrade() -> None:
    op.drop_index("ix_kb_revisions_entry_id", table_name="kb_revisions")
    op.drop_table("kb_revisions")
    op.drop_index("ix_kb_entries_updated_at", table_name="kb_entries")
    op.drop_index("ix_kb_entries_live", table_name="kb_entries")
    op.drop_index("ix_kb_entries_status", table_name="kb_entries")
    op.drop_table("kb_entries")
