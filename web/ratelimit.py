"""Fixed-window request limits kept in the shared database, so every worker counts the same requests."""
from __future__ import annotations

import time

from sqlalchemy import Integer, String, delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, mapped_column, sessionmaker

from web.db import Base


class RateCounter(Base):
    __tablename__ = "rate_counters"
    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    window: Mapped[int] = mapped_column(Integer, primary_key=True)  # unix minute
    count: Mapped[int] = mapped_column(Integer, default=0)


class RateLimiter:
    """`allow(key, limit)` counts one request for key in the current minute and says if it is within limit."""

    def __init__(self, sessions: sessionmaker, window_seconds: int = 60):
        self.sessions = sessions
        self.window_seconds = window_seconds

    def allow(self, key: str, limit: int, now: float | None = None) -> bool:
        if limit <= 0:
            return True
        window = int((now or time.time()) // self.window_seconds)
        with self.sessions() as db:
            insert = pg_insert if db.bind.dialect.name == "postgresql" else sqlite_insert
            stmt = insert(RateCounter).values(key=key[:160], window=window, count=1)
            stmt = stmt.on_conflict_do_update(index_elements=["key", "window"], set_={"count": RateCounter.count + 1})
            db.execute(stmt)
            count = db.get(RateCounter, (key[:160], window), populate_existing=True).count
            if window % 10 == 0:  # now and then, forget old windows
                db.execute(delete(RateCounter).where(RateCounter.window < window - 1))
            db.commit()
        return count <= limit
