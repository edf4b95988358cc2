"""WeChat channel: de-duplicated inbound messages, followers, the push outbox and the shared access_token.

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "wechat_inbound",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("openid", sa.String(128), nullable=False),
        sa.Column("msg_type", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reply", sa.Text(), nullable=True),
        sa.Column("session_id", sa.String(64), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("finished_at", TZ, nullable=True),
    )
    op.create_index("ix_wechat_inbound_openid", "wechat_inbound", ["openid"])
    op.create_index("ix_wechat_inbound_created_at", "wechat_inbound", ["created_at"])
    op.create_table(
        "wechat_users",
        sa.Column("openid", sa.String(128), primary_key=True),
        sa.Column("subscribed", sa.Boolean(), nullable=False),
        sa.Column("subscribed_at", TZ, nullable=True),
        sa.Column("unsubscribed_at", TZ, nullable=True),
        sa.Column("last_inbound_at", TZ, nullable=True),
        sa.Column("pushes_since_inbound", sa.Integer(), nullable=False),
        sa.Column("suggestions", sa.JSON(), nullable=False),
    )
    op.create_table(
        "wechat_outbox",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("openid", sa.String(128), nullable=False),
        sa.Column("session_id", sa.String(64), nullable=True),
        sa.Column("message_seq", sa.Integer(), nullable=True),
        sa.Column("part", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("errcode", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(255), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
    )
    op.create_index("ix_wechat_outbox_openid", "wechat_outbox", ["openid"])
    op.create_index("ix_wechat_outbox_session_id", "wechat_outbox", ["session_id"])
    op.create_index("ix_wechat_outbox_status", "wechat_outbox", ["status"])
    op.create_table(
        "wechat_tokens",
        sa.Column("appid", sa.String(64), primary_key=True),
        sa.Column("access_token", sa.String(512), nullable=True),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_until", sa.Float(), nullable=False),
        sa.Column("refreshed", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    for table in ("wechat_tokens", "wechat_outbox", "wechat_users", "wechat_inbound"):
        op.drop_table(table)
