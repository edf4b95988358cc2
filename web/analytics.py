"""Supervisor analytics: every dashboard figure is one SQL aggregate (SQLite and PostgreSQL) over a date range and channel."""
from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Callable

from sqlalchemy import and_, case, func, literal, or_, select
from sqlalchemy.orm import Session, aliased, sessionmaker
from sqlalchemy.sql import ColumnElement

from bot.entities import mask_personal_data
from web.db import Agent, Feedback, Message, Ticket

LOCAL_TZ = timezone(timedelta(hours=8))  # Guangzhou (China has no daylight saving); buckets are local hours/days
LOCAL_TZ_NAME = "Asia/Shanghai"
BUCKETS = ("hour", "day")
UNKNOWN = "未识别"
TYPE_LABELS = {"answer": "直接解答", "clarify": "澄清追问", "fallback": "未能解答", "handoff": "转人工", "chitchat": "闲聊"}
REASON_LABELS = {"user_request": "用户要求转人工", "complaint": "投诉/反映", "repeated_failure": "多次未解决",
                 "low_confidence": "未能解答后转人工"}
CHANNEL_LABELS = {"web": "网页", "wechat": "微信公众号", "cli": "命令行"}


@dataclass(frozen=True)
class Filters:
    """What every figure is filtered by: [start, end) in UTC, an optional channel, the time bucket for trends."""

    start: datetime
    end: datetime
    channel: str | None = None
    bucket: str = "day"


@dataclass
class Table:
    """A figure's numbers as a table (what the chart draws and the CSV export writes)."""

    columns: list[str]
    rows: list[list]

    def as_json(self) -> dict:
        return {"columns": self.columns, "rows": self.rows}


# ---- dialect helpers --------------------------------------------------------------------------------
def to_utc(value: date | datetime, end: bool = False) -> datetime:
    """A local date (the whole day; `end` means the day after it) or a datetime (naive = UTC) as an aware UTC datetime."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)
    day = value + timedelta(days=1) if end else value
    return datetime.combine(day, time(0), LOCAL_TZ).astimezone(timezone.utc)


def bucket_expr(column, bucket: str, dialect: str) -> ColumnElement:
    """The local hour ('2026-12-04 09:00') or day ('2026-12-04') of a timestamp column, as text, on either database."""
    if bucket not in BUCKETS:
        raise ValueError(f"unknown bucket {bucket!r}; expected one of {BUCKETS}")
    if dialect == "sqlite":  # stored as UTC wall-clock text
        offset = f"+{int(LOCAL_TZ.utcoffset(None).total_seconds() // 3600)} hours"
        return func.strftime("%Y-%m-%d %H:00" if bucket == "hour" else "%Y-%m-%d", column, offset)
    if dialect == "postgresql":
        return func.to_char(func.timezone(LOCAL_TZ_NAME, column), "YYYY-MM-DD HH24:00" if bucket == "hour" else "YYYY-MM-DD")
    raise ValueError(f"unsupported database {dialect!r}")


def seconds_between(later, earlier, dialect: str) -> ColumnElement:
    """later - earlier in seconds (NULL when either is NULL)."""
    if dialect == "sqlite":
        return (func.julianday(later) - func.julianday(earlier)) * 86400.0
    return func.extract("epoch", later - earlier)


def _dialect(db: Session) -> str:
    return db.get_bind().dialect.name


def _count_if(condition) -> ColumnElement:
    return func.sum(case((condition, 1), else_=0))


def _in_range(column, f: Filters) -> list:
    return [column >= f.start, column < f.end]


def _bot_turns(f: Filters) -> list:
    """Bot replies in range: one per user question, carrying the decision and its line / item / district / channel."""
    where = [Message.role == "bot", *_in_range(Message.created_at, f)]
    if f.channel:
        where.append(Message.channel == f.channel)
    return where


def _tickets(f: Filters) -> list:
    where = _in_range(Ticket.created_at, f)
    if f.channel:
        where.append(Ticket.channel == f.channel)
    return where


def _pct(part, whole) -> float:
    return round(100.0 * (part or 0) / whole, 1) if whole else 0.0


def _minutes(seconds) -> float | None:
    return None if seconds is None else round(float(seconds) / 60.0, 1)


# ---- unanswered questions, clustered ---------------------------------------------------------------------
_PUNCT_RE = re.compile(r"[\W_]+", re.UNICODE)
_FILLERS = ("请问一下", "请问", "你好", "您好", "麻烦", "想问一下", "想问", "问一下", "咨询一下", "咨询", "我想", "我要",
            "一下", "怎么办", "怎么样", "怎么", "如何", "什么", "在哪里", "在哪", "哪里", "哪儿", "可以", "需要", "吗", "呢", "吧", "啊", "呀", "哦", "嘛", "的", "了", "是")
_FILLER_RE = re.compile("|".join(sorted(map(re.escape, _FILLERS), key=len, reverse=True)))
_DIGITS_RE = re.compile(r"\d+")


def normalize_question(text: str) -> str:
    """Full-width to half-width (NFKC), lower case; no punctuation, spaces, digits (masked numbers), particles or
    filler words — what is left names the topic."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _PUNCT_RE.sub("", text)
    return _FILLER_RE.sub("", _DIGITS_RE.sub("", text)) or text


def bigrams(text: str) -> frozenset[str]:
    """Character bigrams of a normalised question (a single character is its own signature)."""
    return frozenset(text[i:i + 2] for i in range(len(text) - 1)) or frozenset([text])


def jaccard(a: frozenset, b: frozenset) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def cluster_texts(items: list[tuple[str, int, datetime | None]], threshold: float = 0.5) -> list[dict]:
    """Greedy grouping of (text, count, last_seen), most frequent first: a text joins the first cluster whose
    representative's bigram signature has Jaccard ≥ threshold with its own, else starts a cluster. Deterministic."""
    items = sorted(items, key=lambda x: (-x[1], x[0]))
    clusters: list[dict] = []
    by_gram: dict[str, list[int]] = {}  # bigram → clusters whose representative has it (candidate lookup)
    for text, count, seen in items:
        norm = normalize_question(text)
        if not norm:
            continue
        sig = bigrams(norm)
        candidates = sorted({i for g in sig for i in by_gram.get(g, ())})
        home = next((i for i in candidates if jaccard(sig, clusters[i]["sig"]) >= threshold), None)
        if home is None:
            home = len(clusters)
            clusters.append({"sig": sig, "norm": norm, "text": text, "count": 0, "examples": [], "last_seen": None})
            for g in sig:
                by_gram.setdefault(g, []).append(home)
        c = clusters[home]
        c["count"] += count
        if text != c["text"] and len(c["examples"]) < 5:
            c["examples"].append(text)
        if seen is not None and (c["last_seen"] is None or seen > c["last_seen"]):
            c["last_seen"] = seen
    return clusters


def unanswered_texts(db: Session, f: Filters, max_texts: int = 2000) -> list[tuple[str, int, datetime]]:
    """Distinct user questions whose bot reply was a fallback or got a thumbs-down, with counts and last time seen
    (at most `max_texts`, most frequent then most recent first). The user message is the one right before the reply."""
    bot, user = aliased(Message), aliased(Message)
    on_user = and_(user.session_id == bot.session_id, user.seq == bot.seq - 1, user.role == "user")
    fallback = select(user.text.label("text"), bot.created_at.label("at")).join(user, on_user).where(
        bot.role == "bot", bot.type == "fallback", bot.created_at >= f.start, bot.created_at < f.end)
    disliked = (select(user.text.label("text"), Feedback.created_at.label("at"))
                .join(bot, and_(bot.session_id == Feedback.session_id, bot.seq == Feedback.message_seq))
                .join(user, on_user)
                .where(Feedback.value < 0, Feedback.created_at >= f.start, Feedback.created_at < f.end,
                       bot.type != "fallback"))  # a fallback with a thumbs-down is one gap, not two
    if f.channel:
        fallback = fallback.where(bot.channel == f.channel)
        disliked = disliked.where(bot.channel == f.channel)
    both = fallback.union_all(disliked).subquery()
    q = (select(both.c.text, func.count().label("n"), func.max(both.c.at).label("last"))
         .group_by(both.c.text).order_by(func.count().desc(), func.max(both.c.at).desc()).limit(max_texts))
    return [(t, n, last) for t, n, last in db.execute(q)]


def unanswered_clusters(sessions: sessionmaker, start: date | datetime, end: date | datetime,
                        channel: str | None = None, limit: int = 50) -> list[dict]:
    """Questions the bot could not answer (fallbacks, thumbs-down answers) grouped so that many phrasings of one
    missing topic are one row: [{"key", "text", "count", "examples", "last_seen"}], biggest first, text masked.
    Dates are local days (end inclusive); datetimes are instants (naive = UTC, end exclusive)."""
    f = Filters(to_utc(start), to_utc(end, end=True), channel)
    with sessions() as db:
        return _unanswered(db, f, limit)


def _unanswered(db: Session, f: Filters, limit: int) -> list[dict]:
    masked = [(mask_personal_data(t), n, seen) for t, n, seen in unanswered_texts(db, f)]
    clusters = sorted(cluster_texts(masked), key=lambda c: (-c["count"], c["norm"]))[:limit]
    return [{"key": hashlib.sha1(c["norm"].encode("utf-8")).hexdigest()[:12], "text": c["text"], "count": c["count"],
             "examples": c["examples"], "last_seen": _iso(c["last_seen"])} for c in clusters]


def _iso(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):  # SQLite hands back text from a UNION
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(LOCAL_TZ).isoformat(timespec="seconds")
