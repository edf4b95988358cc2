"""Storage schema and engine set-up (SQLite with WAL by default, PostgreSQL through DATABASE_URL)."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import (JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint,
                        create_engine, event)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands datetimes back without a zone; they were stored as UTC."""
    return value if value is None or value.tzinfo else value.replace(tzinfo=timezone.utc)


def iso(value: datetime | None) -> str | None:
    return aware(value).isoformat() if value else None


class Base(DeclarativeBase):
    pass


class ChatSession(Base):
    __tablename__ = "sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    user_ref: Mapped[str | None] = mapped_column(String(128), index=True)  # WeChat openid etc.
    status: Mapped[str] = mapped_column(String(16), default="bot")  # bot | handoff
    state: Mapped[dict] = mapped_column(JSON, default=dict)
    elements: Mapped[dict] = mapped_column(JSON, default=dict)  # extracted company, code, district …
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (UniqueConstraint("session_id", "seq"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(8))  # user | bot | agent | system
    text: Mapped[str] = mapped_column(Text)
    type: Mapped[str | None] = mapped_column(String(16), index=True)  # the bot's decision type
    reason: Mapped[str | None] = mapped_column(String(64))
    confidence: Mapped[float | None] = mapped_column(Float)
    sources: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    # denormalised for analytics: filter and group without unpacking JSON or joining sessions
    channel: Mapped[str | None] = mapped_column(String(16), index=True)
    line: Mapped[str | None] = mapped_column(String(16), index=True)  # business line of the answer / scenario
    item: Mapped[str | None] = mapped_column(String(64), index=True)  # service item (事项)
    district: Mapped[str | None] = mapped_column(String(8), index=True)
    kb_id: Mapped[str | None] = mapped_column(String(32), index=True)  # top source of a bot message
    agent_id: Mapped[int | None] = mapped_column(Integer)  # author of an agent message


class Ticket(Base):
    __tablename__ = "tickets"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    queue: Mapped[str] = mapped_column(String(16), index=True)
    reason: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="waiting", index=True)  # waiting | assigned | closed
    summary: Mapped[str] = mapped_column(Text, default="")
    elements: Mapped[dict] = mapped_column(JSON, default=dict)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"), index=True)
    resolution: Mapped[str | None] = mapped_column(Text)
    rating: Mapped[int | None] = mapped_column(Integer)
    rating_comment: Mapped[str | None] = mapped_column(Text)
    form: Mapped[dict] = mapped_column(JSON, default=dict)  # the work order as the agent edited it
    department: Mapped[str | None] = mapped_column(String(64))  # suggested / chosen handling department
    line: Mapped[str | None] = mapped_column(String(16), index=True)
    district: Mapped[str | None] = mapped_column(String(8), index=True)
    transcript_seq: Mapped[int] = mapped_column(Integer, default=0)  # last message seq when the ticket opened
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    assigned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    first_reply_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Agent(Base):
    __tablename__ = "agents"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64), default="")
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16), default="agent")  # agent | supervisor | editor
    queues: Mapped[list] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AgentToken(Base):
    __tablename__ = "agent_tokens"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the bearer token
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class Feedback(Base):
    __tablename__ = "feedback"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id"), index=True)
    message_seq: Mapped[int | None] = mapped_column(Integer)
    value: Mapped[int] = mapped_column(Integer)  # +1 / -1
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


def make_engine(url: str) -> Engine:
    """An engine for the URL; SQLite gets WAL, a busy timeout and foreign keys."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(conn, _record) -> None:
            cur = conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    if url.startswith(("postgresql://", "postgres://")):  # SQLAlchemy would otherwise look for psycopg2
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return create_engine(url, pool_pre_ping=True)


MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Modules that add tables to Base.metadata; imported before migrating or comparing schemas.
MODEL_MODULES = (
    "web.ratelimit",
    "web.kb_store",
    "web.wechat.models",
    "web.analytics",  # the dashboard's covering index on messages
)


def load_models() -> None:
    import importlib

    for name in MODEL_MODULES:
        importlib.import_module(name)


def alembic_config():
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the database to the newest schema with Alembic; existing data is kept.

    A database created before migrations existed (tables but no alembic_version) is stamped at the first
    revision, whose tables it already has, and upgraded from there.
    """
    from alembic import command
    from sqlalchemy import inspect

    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        tables = set(inspect(conn).get_table_names())
        if "sessions" in tables and "alembic_version" not in tables:
            command.stamp(cfg, "0001")
        command.upgrade(cfg, "heads")
