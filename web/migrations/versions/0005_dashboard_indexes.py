"""Covering index for the supervisor dashboard: bot turns by time and channel with every grouped column.

Revision ID: 0005
Revises: 0002
"""
from alembic import op

revision = "0005"
down_revision = "0002"
branch_labels = None
depends_on = None

COLUMNS = ["role", "created_at", "channel", "type", "reason", "line", "item", "district", "kb_id", "session_id"]


def upgrade() -> None:
    op.create_index("ix_messages_analytics", "messages", COLUMNS)


def downgrade() -> None:
    op.drop_index("ix_messages_analytics", table_name="messages")
