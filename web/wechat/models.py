"""WeChat tables: de-duplicated inbound messages, users (48 h window, push quota), the push outbox, the token."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from web.db import Base, utcnow

WINDOW_HOURS = 48  # customer-service messages are allowed this long after the user's last message
PUSHES_PER_MESSAGE = 5  # and at most this many per user message (errors 45015 / 45047)


class WeChatInbound(Base):
    """One row per message WeChat delivered (MsgId + openid, or openid + CreateTime for events); retries of it
    find the row and get the same reply instead of running the bot again."""

    __tablename__ = "wechat_inbound"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    openid: Mapped[str] = mapped_column(String(128), index=True)
    msg_type: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="running")  # running | replied | pushed | failed
    reply: Mapped[str | None] = mapped_column(Text)  # the passive reply text; None means "success" was answered
    session_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class WeChatUser(Base):
    """A follower: subscription, the last message (opens the 48 h window) and pushes since (the quota)."""

    __tablename__ = "wechat_users"
    openid: Mapped[str] = mapped_column(String(128), primary_key=True)
    subscribed: Mapped[bool] = mapped_column(Boolean, default=True)
    subscribed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    unsubscribed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_inbound_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    pushes_since_inbound: Mapped[int] = mapped_column(Integer, default=0)
    suggestions: Mapped[list] = mapped_column(JSON, default=list)  # options of the last clarify, picked by number


class WeChatOutbox(Base):
    """A customer-service push (an answer too slow for the passive reply, an agent reply, a notice); kept with
    its outcome so a failure is reported and can be retried, never lost."""

    __tablename__ = "wechat_outbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    openid: Mapped[str] = mapped_column(String(128), index=True)
    session_id: Mapped[str | None] = mapped_column(String(64), index=True)
    message_seq: Mapped[int | None] = mapped_column(Integer)  # the stored message this push carries
    part: Mapped[int] = mapped_column(Integer, default=0)  # pieces of a text longer than 2,048 bytes
    kind: Mapped[str] = mapped_column(String(16))  # answer | agent | notice
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)  # pending | sending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    errcode: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WeChatToken(Base):
    """The access_token shared by every worker; `lease_until`/`lease_owner` let exactly one refresh at a time."""

    __tablename__ = "wechat_tokens"
    appid: Mapped[str] = mapped_column(String(64), primary_key=True)
    access_token: Mapped[str | None] = mapped_column(String(512))
    expires_at: Mapped[float] = mapped_column(Float, default=0.0)  # unix seconds
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[float] = mapped_column(Float, default=0.0)
    refreshed: Mapped[int] = mapped_column(Integer, default=0)  # how many times it was fetched
