"""Agents and their API tokens; work-order fields on tickets; analytics columns on messages.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("display_name", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.String(256), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("queues", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_table(
        "agent_tokens",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("agent_id", sa.Integer(), sa.ForeignKey("agents.id"), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
    )
    op.create_index("ix_agent_tokens_agent_id", "agent_tokens", ["agent_id"])
    op.create_index("ix_agent_tokens_expires_at", "agent_tokens", ["expires_at"])
    with op.batch_alter_table("messages") as batch:
        for name, kind in (("channel", sa.String(16)), ("line", sa.String(16)), ("item", sa.String(64)),
                           ("district", sa.String(8)), ("kb_id", sa.String(32)), ("agent_id", sa.Integer())):
            batch.add_column(sa.Column(name, kind, nullable=True))
        for name in ("channel", "line", "item", "district", "kb_id"):
            batch.create_index(f"ix_messages_{name}", [name])
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("rating_comment", sa.Text(), nullable=True))
        batch.add_column(sa.Column("form", sa.JSON(), nullable=False, server_default="{}"))
        batch.add_column(sa.Column("department", sa.String(64), nullable=True))
        batch.add_column(sa.Column("line", sa.String(16), nullable=True))
        batch.add_column(sa.Column("district", sa.String(8), nullable=True))
        batch.add_column(sa.Column("transcript_seq", sa.Integer(), nullable=False, server_default="0"))
        batch.create_index("ix_tickets_agent_id", ["agent_id"])
        batch.create_index("ix_tickets_line", ["line"])
        batch.create_index("ix_tickets_district", ["district"])
        batch.create_foreign_key("fk_tickets_agent_id", "agents", ["agent_id"], ["id"])
    with op.batch_alter_table("tickets") as batch:  # the defaults only filled existing rows
        batch.alter_column("form", server_default=None)
        batch.alter_column("transcript_seq", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.drop_constraint("fk_tickets_agent_id", type_="foreignkey")
        for name in ("agent_id", "line", "district"):
            batch.drop_index(f"ix_tickets_{name}")
        for name in ("rating_comment", "form", "department", "line", "district", "transcript_seq"):
            batch.drop_column(name)
    with op.batch_alter_table("messages") as batch:
        for name in ("channel", "line", "item", "district", "kb_id"):
            batch.drop_index(f"ix_messages_{name}")
        for name in ("channel", "line", "item", "district", "kb_id", "agent_id"):
            batch.drop_column(name)
    op.drop_table("agent_tokens")
    op.drop_table("agents")
