"""Supervisor analytics: each dashboard figure is an SQL aggregate (SQLite and PostgreSQL) over dates and a channel."""
from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Callable

from sqlalchemy import Index, and_, case, func, or_, select
from sqlalchemy.orm import Session, aliased, sessionmaker
from sqlalchemy.sql import ColumnElement

from bot.entities import mask_personal_data
from web.db import Agent, Feedback, Message, Ticket

LOCAL_TZ = timezone(timedelta(hours=8))  # Guangzhou (China has no daylight saving); buckets are local hours/days
BUCKETS = ("hour", "day")
UNKNOWN = "未识别"
TYPE_LABELS = {"answer": "直接解答", "clarify": "澄清追问", "fallback": "未能解答", "handoff": "转人工", "chitchat": "闲聊"}
REASON_LABELS = {"user_request": "用户要求转人工", "complaint": "投诉/反映", "repeated_failure": "多次未解决",
                 "low_confidence": "未能解答后转人工"}
CHANNEL_LABELS = {"web": "网页", "wechat": "微信公众号", "cli": "命令行"}
# One covering index answers every per-turn figure from the index alone (no table lookups): role and time range
# first, then the channel filter and the grouped columns. Migration 0005 creates it.
ANALYTICS_INDEX = Index("ix_messages_analytics", Message.role, Message.created_at, Message.channel, Message.type,
                        Message.reason, Message.line, Message.item, Message.district, Message.kb_id, Message.session_id)


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
    """A local date (its start; with `end`, the start of the next day) or a datetime (naive = UTC) as aware UTC."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)
    day = value + timedelta(days=1) if end else value
    return datetime.combine(day, time(0), LOCAL_TZ).astimezone(timezone.utc)


def utc_hour_expr(column, dialect: str) -> ColumnElement:
    """The UTC hour a timestamp falls in: the cheapest grouping key on each database (the first 13 characters of
    SQLite's stored UTC text, 'YYYY-MM-DD HH'; date_trunc of the UTC time on PostgreSQL). Guangzhou's hours and days
    are whole UTC hours (UTC+8, no daylight saving), so additive per-hour counts roll up exactly (`roll_up`)."""
    if dialect == "sqlite":
        return func.substr(column, 1, 13)
    if dialect == "postgresql":
        return func.date_trunc("hour", func.timezone("UTC", column))
    raise ValueError(f"unsupported database {dialect!r}")


def local_bucket(utc_hour: str | datetime, bucket: str) -> str:
    """A UTC hour key from `utc_hour_expr` as the local hour ('2026-12-04 09:00') or day ('2026-12-04')."""
    if bucket not in BUCKETS:
        raise ValueError(f"unknown bucket {bucket!r}; expected one of {BUCKETS}")
    if isinstance(utc_hour, str):
        utc_hour = datetime.strptime(utc_hour, "%Y-%m-%d %H")
    local = utc_hour.replace(tzinfo=timezone.utc).astimezone(LOCAL_TZ)
    return local.strftime("%Y-%m-%d %H:00" if bucket == "hour" else "%Y-%m-%d")


def roll_up(rows, bucket: str) -> list[list]:
    """Rows of (UTC hour key, count, count, …) summed into local hours or days, in time order."""
    sums: dict[str, list] = {}
    for key, *counts in rows:
        total = sums.setdefault(local_bucket(key, bucket), [0] * len(counts))
        for i, n in enumerate(counts):
            total[i] += n or 0
    return [[key, *sums[key]] for key in sorted(sums)]


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
            "一下", "怎么样", "怎么", "如何", "什么", "在哪里", "在哪", "哪里", "哪儿", "可以", "需要",
            "吗", "呢", "吧", "啊", "呀", "哦", "嘛", "的", "了", "是")
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


def _needed(a: frozenset, b: frozenset, threshold: float) -> float:
    """Very short questions need more overlap: 公司注销 and 公司注册 share half their bigrams but differ."""
    return max(threshold, 0.75) if min(len(a), len(b)) <= 3 else threshold


def cluster_texts(items: list[tuple[str, int, datetime | None]], threshold: float = 0.5) -> list[dict]:
    """Greedy grouping of (text, count, last_seen), most frequent first: a text joins the first cluster whose
    representative's bigram signature has Jaccard ≥ threshold with its own (≥ 0.75 when either has at most three
    bigrams), else starts a cluster. Deterministic: the same input in any order gives the same clusters."""
    items = sorted(items, key=lambda x: (-x[1], x[0]))
    clusters: list[dict] = []
    by_gram: dict[str, list[int]] = {}  # bigram → clusters whose representative has it (candidate lookup)
    for text, count, seen in items:
        norm = normalize_question(text)
        if not norm:
            continue
        sig = bigrams(norm)
        candidates = sorted({i for g in sig for i in by_gram.get(g, ())})
        home = next((i for i in candidates if jaccard(sig, clusters[i]["sig"]) >= _needed(sig, clusters[i]["sig"],
                                                                                       threshold)), None)
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


# ---- the figures ------------------------------------------------------------------------------------------
def summary(db: Session, f: Filters) -> Table:
    """Headline numbers for the period."""
    turns = select(func.count(), func.count(func.distinct(Message.session_id)), _count_if(Message.type == "answer"),
                   _count_if(Message.type == "fallback")).where(*_bot_turns(f), _not_waiting())
    questions, conversations, answered, fallbacks = db.execute(turns).one()
    tickets, rated, rating = db.execute(select(func.count(), func.count(Ticket.rating), func.avg(Ticket.rating))
                                        .where(*_tickets(f))).one()
    return Table(["咨询量", "会话数", "直接解答率%", "未能解答", "转人工工单", "评价数", "平均评分"],
                 [[questions or 0, conversations or 0, _pct(answered, questions), fallbacks or 0, tickets or 0,
                   rated or 0, round(float(rating), 2) if rating is not None else None]])


def _not_waiting():
    """Turns answered while the user waits for an agent are not bot decisions."""
    return func.coalesce(Message.reason, "") != "awaiting_agent"


def volume(db: Session, f: Filters) -> Table:
    """Questions (bot replies, one per user message) per local hour or day, in all and per channel."""
    hour = utc_hour_expr(Message.created_at, _dialect(db)).label("h")
    shown = [c for c in CHANNEL_LABELS if c != "cli"]
    q = (select(hour, func.count(), *[_count_if(Message.channel == c) for c in shown]).where(*_bot_turns(f))
         .group_by(hour))
    return Table(["时间", "咨询量", *[CHANNEL_LABELS[c] for c in shown]], roll_up(db.execute(q), f.bucket))


def _volume_by(db: Session, f: Filters, column, label: str, limit: int | None = None) -> Table:
    key = func.coalesce(column, UNKNOWN).label("k")
    q = select(key, func.count().label("n")).where(*_bot_turns(f)).group_by(key).order_by(func.count().desc(), key)
    rows = db.execute(q.limit(limit) if limit else q).all()
    total = db.scalar(select(func.count()).where(*_bot_turns(f))) if limit else sum(n for _, n in rows)
    return Table([label, "咨询量", "占比%"], [[k, n, _pct(n, total)] for k, n in rows])


def by_line(db: Session, f: Filters) -> Table:
    return _volume_by(db, f, Message.line, "业务线")


def by_item(db: Session, f: Filters) -> Table:
    key_line, key_item = func.coalesce(Message.line, UNKNOWN), func.coalesce(Message.item, UNKNOWN)
    q = (select(key_line, key_item, func.count()).where(*_bot_turns(f), Message.item.is_not(None))
         .group_by(key_line, key_item).order_by(func.count().desc(), key_item).limit(30))
    return Table(["业务线", "事项", "咨询量"], [list(r) for r in db.execute(q)])


def by_district(db: Session, f: Filters) -> Table:
    return _volume_by(db, f, Message.district, "区")


def by_channel(db: Session, f: Filters) -> Table:
    table = _volume_by(db, f, Message.channel, "渠道")
    for row in table.rows:
        row[0] = CHANNEL_LABELS.get(row[0], row[0])
    return table


def outcomes(db: Session, f: Filters) -> Table:
    """How the bot replied per bucket: counts and rates of answer / clarify / fallback / handoff (chitchat counted
    in the total)."""
    hour = utc_hour_expr(Message.created_at, _dialect(db)).label("h")
    kinds = ("answer", "clarify", "fallback", "handoff")
    q = (select(hour, func.count(), *[_count_if(Message.type == k) for k in kinds])
         .where(*_bot_turns(f), _not_waiting()).group_by(hour))
    rows = [[b, n, *counts, *[_pct(c, n) for c in counts]] for b, n, *counts in roll_up(db.execute(q), f.bucket)]
    return Table(["时间", "回复数", *[TYPE_LABELS[k] for k in kinds], *[f"{TYPE_LABELS[k]}率%" for k in kinds]], rows)


def handoff_reasons(db: Session, f: Filters) -> Table:
    q = select(Ticket.reason, func.count()).where(*_tickets(f)).group_by(Ticket.reason).order_by(func.count().desc(),
                                                                                               Ticket.reason)
    rows = db.execute(q).all()
    total = sum(n for _, n in rows)
    return Table(["原因", "工单数", "占比%"], [[REASON_LABELS.get(r, r), n, _pct(n, total)] for r, n in rows])


def complaints_by_subject(db: Session, f: Filters) -> Table:
    line = func.coalesce(Ticket.line, UNKNOWN)
    q = (select(Ticket.queue, line, func.count()).where(*_tickets(f), Ticket.reason == "complaint")
         .group_by(Ticket.queue, line).order_by(func.count().desc(), Ticket.queue, line))
    return Table(["队列", "业务线", "投诉数"], [list(r) for r in db.execute(q)])


def complaints_by_district(db: Session, f: Filters) -> Table:
    district = func.coalesce(Ticket.district, UNKNOWN)
    q = (select(district, func.count()).where(*_tickets(f), Ticket.reason == "complaint")
         .group_by(district).order_by(func.count().desc(), district))
    return Table(["区", "投诉数"], [list(r) for r in db.execute(q)])


def top_questions(db: Session, f: Filters, limit: int = 30) -> Table:
    """The most asked questions: exact texts counted in SQL, then phrasings that normalise alike merged."""
    where = [Message.role == "user", *_in_range(Message.created_at, f)]
    if f.channel:
        where.append(Message.channel == f.channel)
    q = (select(Message.text, func.count()).where(*where).group_by(Message.text)
         .order_by(func.count().desc(), Message.text).limit(limit * 10))
    merged: dict[str, list] = {}
    for text, n in db.execute(q):
        text = mask_personal_data(text)
        key = normalize_question(text) or text
        if key in merged:
            merged[key][1] += n
        else:
            merged[key] = [text, n]
    rows = sorted(merged.values(), key=lambda r: (-r[1], r[0]))[:limit]
    return Table(["问题", "次数"], rows)


def top_knowledge(db: Session, f: Filters, limit: int = 30) -> Table:
    """Knowledge points most often given as the answer, with the title users saw."""
    q = (select(Message.kb_id, func.count(), func.max(Message.id)).where(*_bot_turns(f), Message.type == "answer",
                                                                          Message.kb_id.is_not(None))
         .group_by(Message.kb_id).order_by(func.count().desc(), Message.kb_id).limit(limit))
    rows = db.execute(q).all()
    sources = dict(db.execute(select(Message.id, Message.sources).where(Message.id.in_([r[2] for r in rows]))).all())
    titles = {}
    for kb_id, _, last_id in rows:
        titles[kb_id] = next((s.get("title") for s in sources.get(last_id) or [] if s.get("id") == kb_id), "")
    return Table(["知识点", "标题", "命中次数"], [[kb_id, titles[kb_id], n] for kb_id, n, _ in rows])


def unanswered(db: Session, f: Filters, limit: int = 50) -> Table:
    rows = _unanswered(db, f, limit)
    return Table(["问题", "次数", "其他问法", "最近出现"],
                 [[r["text"], r["count"], " | ".join(r["examples"]), r["last_seen"]] for r in rows])


def _median_by(db: Session, group, value, where: list) -> dict:
    """The median of `value` per group, with window functions (both databases; no percentile_cont in SQLite)."""
    sub = (select(group.label("g"), value.label("v"),
                  func.row_number().over(partition_by=group, order_by=value).label("rn"),
                  func.count().over(partition_by=group).label("n"))
           .where(*where, value.is_not(None)).subquery())
    q = (select(sub.c.g, func.avg(sub.c.v))
         .where(or_(sub.c.rn == (sub.c.n + 1) // 2, sub.c.rn == (sub.c.n + 2) // 2)).group_by(sub.c.g))
    return dict(db.execute(q).all())


def queues(db: Session, f: Filters) -> Table:
    """Per agent queue: waiting time (created → claimed), time to first reply and resolution time (created → closed),
    average and median in minutes."""
    d = _dialect(db)
    spans = {"wait": seconds_between(Ticket.assigned_at, Ticket.created_at, d),
             "first": seconds_between(Ticket.first_reply_at, Ticket.created_at, d),
             "resolve": seconds_between(Ticket.closed_at, Ticket.created_at, d)}
    where = _tickets(f)
    q = (select(Ticket.queue, func.count(), _count_if(Ticket.status == "waiting"), _count_if(Ticket.status == "closed"),
                *[func.avg(s) for s in spans.values()]).where(*where).group_by(Ticket.queue).order_by(Ticket.queue))
    medians = {k: _median_by(db, Ticket.queue, s, where) for k, s in spans.items()}
    rows = []
    for queue, n, waiting, closed, *avgs in db.execute(q):
        cells = []
        for k, avg in zip(spans, avgs):
            cells += [_minutes(avg), _minutes(medians[k].get(queue))]
        rows.append([queue, n, waiting, closed, *cells])
    return Table(["队列", "工单数", "等待中", "已办结", "平均等待(分)", "等待中位(分)", "平均首次回复(分)",
                  "首次回复中位(分)", "平均办结(分)", "办结中位(分)"], rows)


def agents(db: Session, f: Filters) -> Table:
    """Tickets per agent (claimed in the period), closed, average first reply and resolution, average rating."""
    d = _dialect(db)
    name = func.coalesce(func.nullif(Agent.display_name, ""), Agent.username)
    q = (select(name, func.count(Ticket.id), _count_if(Ticket.status == "closed"),
                func.avg(seconds_between(Ticket.first_reply_at, Ticket.created_at, d)),
                func.avg(seconds_between(Ticket.closed_at, Ticket.created_at, d)),
                func.count(Ticket.rating), func.avg(Ticket.rating))
         .join(Agent, Agent.id == Ticket.agent_id).where(*_tickets(f))
         .group_by(Agent.id, name).order_by(func.count(Ticket.id).desc(), name))
    return Table(["坐席", "处理工单", "已办结", "平均首次回复(分)", "平均办结(分)", "评价数", "平均评分"],
                 [[a, n, c, _minutes(fr), _minutes(res), rated, round(float(r), 2) if r is not None else None]
                  for a, n, c, fr, res, rated, r in db.execute(q)])


def satisfaction_queue(db: Session, f: Filters) -> Table:
    """Ratings (1-5) of human service per queue."""
    q = (select(Ticket.queue, func.count(Ticket.rating), func.avg(Ticket.rating),
                *[_count_if(Ticket.rating == s) for s in range(1, 6)])
         .where(*_tickets(f), Ticket.rating.is_not(None)).group_by(Ticket.queue).order_by(Ticket.queue))
    return Table(["队列", "评价数", "平均评分", "1星", "2星", "3星", "4星", "5星"],
                 [[queue, n, round(float(avg), 2), *stars] for queue, n, avg, *stars in db.execute(q)])


def satisfaction_line(db: Session, f: Filters) -> Table:
    """Per business line: agent ratings (tickets) and thumbs up / down on bot replies (feedback)."""
    line = func.coalesce(Ticket.line, UNKNOWN)
    ratings = {k: (n, avg) for k, n, avg in db.execute(
        select(line, func.count(Ticket.rating), func.avg(Ticket.rating))
        .where(*_tickets(f), Ticket.rating.is_not(None)).group_by(line))}
    mline = func.coalesce(Message.line, UNKNOWN)
    where = [*_in_range(Feedback.created_at, f)]
    if f.channel:
        where.append(Message.channel == f.channel)
    thumbs = {k: (up, down) for k, up, down in db.execute(
        select(mline, _count_if(Feedback.value > 0), _count_if(Feedback.value < 0))
        .join(Message, and_(Message.session_id == Feedback.session_id, Message.seq == Feedback.message_seq))
        .where(*where).group_by(mline))}
    rows = []
    for key in sorted(set(ratings) | set(thumbs)):
        n, avg = ratings.get(key, (0, None))
        up, down = thumbs.get(key, (0, 0))
        rows.append([key, n, round(float(avg), 2) if avg is not None else None, up, down, _pct(up, up + down)
                     if up + down else None])
    return Table(["业务线", "评价数", "平均评分", "点赞", "点踩", "好评率%"], rows)


@dataclass(frozen=True)
class Figure:
    title: str
    compute: Callable[[Session, Filters], Table]
    chart: dict  # how the page draws it: {"kind": "line"|"bar"|"stack"|"kpi"|"table", ...column indexes}


FIGURES: dict[str, Figure] = {
    "summary": Figure("总览", summary, {"kind": "kpi"}),
    "volume": Figure("咨询量趋势", volume, {"kind": "line", "x": 0, "series": [1, 2, 3]}),
    "outcomes": Figure("答复类型占比趋势", outcomes, {"kind": "line", "x": 0, "series": [6, 7, 8, 9], "unit": "%"}),
    "by_line": Figure("按业务线", by_line, {"kind": "bar", "label": 0, "value": 1}),
    "by_item": Figure("热门事项", by_item, {"kind": "bar", "label": 1, "value": 2}),
    "by_district": Figure("按区", by_district, {"kind": "bar", "label": 0, "value": 1}),
    "by_channel": Figure("按渠道", by_channel, {"kind": "bar", "label": 0, "value": 1}),
    "handoff_reasons": Figure("转人工原因", handoff_reasons, {"kind": "bar", "label": 0, "value": 1}),
    "complaints_by_subject": Figure("投诉：按队列与业务线", complaints_by_subject, {"kind": "bar", "label": 1, "value": 2}),
    "complaints_by_district": Figure("投诉：按区", complaints_by_district, {"kind": "bar", "label": 0, "value": 1}),
    "top_questions": Figure("热门问题", top_questions, {"kind": "bar", "label": 0, "value": 1}),
    "top_knowledge": Figure("热门知识点", top_knowledge, {"kind": "bar", "label": 1, "value": 2}),
    "unanswered": Figure("未解答问题（聚类）", unanswered, {"kind": "bar", "label": 0, "value": 1}),
    "queues": Figure("坐席队列时效", queues, {"kind": "bar", "label": 0, "value": 4}),
    "agents": Figure("坐席工作量", agents, {"kind": "bar", "label": 0, "value": 1}),
    "satisfaction_queue": Figure("满意度：按队列", satisfaction_queue, {"kind": "bar", "label": 0, "value": 2, "max": 5}),
    "satisfaction_line": Figure("满意度：按业务线", satisfaction_line, {"kind": "bar", "label": 0, "value": 5, "max": 100}),
}


def compute(sessions: sessionmaker, name: str, f: Filters) -> Table:
    """One figure by name (KeyError for an unknown one)."""
    figure = FIGURES[name]
    with sessions() as db:
        return figure.compute(db, f)
