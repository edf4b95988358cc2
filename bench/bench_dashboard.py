"""Dashboard at scale: generate ~1M messages (+ sessions, tickets, feedback) and time every dashboard figure.

    .venv/bin/python bench/bench_dashboard.py [--messages 1000000] [--db var/bench_dashboard.db] [--fresh]
    HOTLINE_BENCH_DATABASE_URL=postgresql://…/dash_bench .venv/bin/python bench/bench_dashboard.py  # PostgreSQL

The data is generated once (seeded) and kept; later runs only time the queries. Prints JSON. The PostgreSQL
database must be a throw-away one (--fresh drops its tables); DATABASE_URL is deliberately not used.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select  # noqa: E402
from sqlalchemy.orm import sessionmaker  # noqa: E402

from web.analytics import FIGURES, Filters, compute  # noqa: E402
from web.db import Agent, ChatSession, Feedback, Message, Ticket, make_engine, migrate  # noqa: E402

LINES = {"商事登记": ["设立登记", "变更登记", "注销登记", "年报公示", "个体户登记"],
         "社保": ["参保登记", "社保缴费", "工伤认定"], "公积金": ["单位缴存", "提取", "基数调整"],
         "税务": ["发票申领", "纳税申报"], "不动产": ["抵押登记"]}
QUEUE_OF = {"商事登记": "商事登记", "社保": "社保", "公积金": "公积金"}
DISTRICTS = ("越秀", "海珠", "荔湾", "天河", "白云", "黄埔", "番禺", "花都", "南沙", "从化", "增城")
QUESTIONS = ["{d}区{i}需要什么材料", "请问{i}怎么办理", "{i}在哪里办", "{i}要多久", "我想咨询{i}",
             "{i}可以网上办吗", "{i}收费吗？", "公司在{d}区，{i}流程是什么"]
GAPS = ["犬只登记怎么办理", "请问犬只登记在哪办", "犬只登记要什么材料啊", "共享单车乱停放投诉", "共享单车乱停怎么投诉",
        "电动车上牌在哪里", "电动自行车上牌流程", "演唱会门票退款", "演唱会退票找谁"]
ASPECTS = ("办理指南", "所需材料", "办理时限", "收费标准", "网上办理", "办理地点", "常见问题", "政策依据", "注意事项", "办理条件")
REASONS = ("user_request", "complaint", "repeated_failure", "low_confidence")
TYPES = (("answer", 0.60), ("clarify", 0.10), ("fallback", 0.12), ("handoff", 0.05), ("chitchat", 0.13))


def generate(engine, n_messages: int, days: int, seed: int = 12345, end: datetime | None = None,
             prefix: str = "b") -> dict:
    """Bulk-insert conversations over `days` up to `end` (default now): 2-6 turns each, a ticket for each handoff
    (most claimed, replied and closed, some rated), thumbs on some answers. Seeded: the same call, the same data."""
    rng = random.Random(seed)
    end = end or datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(days=days)
    span = (end - start).total_seconds()
    names = [f"{prefix}_agent{i}" for i in range(1, 13)]
    with engine.begin() as conn:
        conn.execute(insert(Agent), [{"username": name, "display_name": f"坐席{i:02d}", "password_hash": "x",
                                      "role": "agent", "queues": [], "active": True, "created_at": start}
                                     for i, name in enumerate(names, 1)])
        agent_ids = list(conn.execute(select(Agent.id).where(Agent.username.in_(names)).order_by(Agent.id)).scalars())
    counts = {"sessions": 0, "messages": 0, "tickets": 0, "feedback": 0}
    sessions, messages, tickets, feedback = [], [], [], []

    def flush(final: bool = False) -> None:
        if len(messages) < 50_000 and not final:
            return
        with engine.begin() as conn:
            for model, rows in ((ChatSession, sessions), (Message, messages), (Ticket, tickets), (Feedback, feedback)):
                if rows:
                    conn.execute(insert(model), rows)
                    counts[model.__tablename__ if model is not ChatSession else "sessions"] += len(rows)
                    rows.clear()
        print(f"  {counts['messages']:,} messages", file=sys.stderr, flush=True)

    types, weights = zip(*TYPES)
    sessions_expected = n_messages / 7.5  # measured: 2-6 turns, agent replies → ~7.5 messages a session
    n_session = 0
    written = 0
    while written < n_messages:
        n_session += 1
        sid = f"{prefix}{n_session:08d}"
        channel = rng.choices(("web", "wechat"), (0.6, 0.4))[0]
        district = rng.choice(DISTRICTS) if rng.random() < 0.7 else None
        # sessions start in time order (as a live service appends them), a few minutes of jitter apart
        t = start + timedelta(seconds=min(span - 3600, n_session * span / sessions_expected + rng.random() * 300))
        sessions.append({"id": sid, "channel": channel, "user_ref": None, "status": "bot", "state": {}, "elements": {},
                         "created_at": t, "updated_at": t})
        seq = 0
        for _turn in range(rng.randint(2, 6)):
            line = rng.choice(list(LINES))
            item = rng.choice(LINES[line])
            kind = rng.choices(types, weights)[0]
            text = (rng.choice(GAPS) if kind == "fallback" and rng.random() < 0.6 else
                    rng.choice(QUESTIONS).format(d=district or "天河", i=item))
            if rng.random() < 0.01:
                text += f"，电话{rng.randint(13000000000, 19999999999)}"
            seq += 1
            messages.append({"session_id": sid, "seq": seq, "role": "user", "text": text, "type": None, "reason": None,
                             "confidence": None, "sources": [], "created_at": t, "channel": channel, "line": None,
                             "item": None, "district": district, "kb_id": None, "agent_id": None})
            t += timedelta(seconds=1)
            answered = kind in ("answer", "clarify")
            aspect = rng.randint(0, 9)
            kb_id = f"KP-{line[:2]}-{LINES[line].index(item):02d}{aspect}" if answered else None
            reason = rng.choice(REASONS) if kind == "handoff" else None
            seq += 1
            source = {"id": kb_id, "title": f"{item}：{ASPECTS[aspect]}", "score": 0.9, "legal_basis": None}
            messages.append({"session_id": sid, "seq": seq, "role": "bot", "text": "（回复）", "type": kind,
                             "reason": reason, "confidence": round(rng.random(), 3),
                             "sources": [source] if kb_id else [], "created_at": t, "channel": channel,
                             "line": line if kind != "chitchat" else None, "item": item if answered else None,
                             "district": district, "kb_id": kb_id, "agent_id": None})
            if kind == "answer" and rng.random() < 0.08:
                feedback.append({"session_id": sid, "message_seq": seq, "value": rng.choice((1, 1, -1)), "comment": "",
                                 "created_at": t + timedelta(seconds=30)})
            if kind == "handoff":
                status = rng.choices(("waiting", "assigned", "closed"), (0.1, 0.1, 0.8))[0]
                assigned = t + timedelta(seconds=rng.randint(10, 1800)) if status != "waiting" else None
                closed = assigned + timedelta(seconds=rng.randint(120, 3600)) if status == "closed" else None
                tickets.append({"id": f"T{prefix}{n_session:08d}{seq:02d}", "session_id": sid, "channel": channel,
                                "queue": QUEUE_OF.get(line, "综合"), "reason": reason, "status": status,
                                "summary": text[:120], "elements": {}, "form": {}, "line": line,
                                "district": district, "transcript_seq": seq, "created_at": t,
                                "agent_id": rng.choice(agent_ids) if assigned else None, "assigned_at": assigned,
                                "first_reply_at": assigned + timedelta(seconds=rng.randint(5, 300)) if assigned
                                else None, "closed_at": closed,
                                "rating": rng.randint(1, 5) if closed and rng.random() < 0.6 else None,
                                "resolution": "已处理" if closed else None, "department": None, "rating_comment": None})
                if assigned:
                    seq += 1
                    messages.append({"session_id": sid, "seq": seq, "role": "agent", "text": "您好，我来为您处理。",
                                     "type": None, "reason": None, "confidence": None, "sources": [],
                                     "created_at": assigned + timedelta(seconds=5), "channel": channel, "line": None,
                                     "item": None, "district": None, "kb_id": None,
                                     "agent_id": tickets[-1]["agent_id"]})
                break
            t += timedelta(seconds=rng.randint(5, 120))
        written += seq
        flush()
    flush(final=True)
    return {**counts, "days": days, "from": start.isoformat(), "to": end.isoformat()}


def time_figures(sessions, f: Filters, names, repeat: int = 3) -> dict:
    """Seconds per figure: the first run and the median of `repeat` runs."""
    out = {}
    for name in names:
        runs = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            compute(sessions, name, f)
            runs.append(time.perf_counter() - t0)
        out[name] = {"first_s": round(runs[0], 3), "median_s": round(statistics.median(runs), 3)}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--db", default=str(ROOT / "var" / "bench_dashboard.db"),
                    help="SQLite file (when HOTLINE_BENCH_DATABASE_URL is not set)")
    ap.add_argument("--fresh", action="store_true", help="drop the generated data and generate again")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    url = os.environ.get("HOTLINE_BENCH_DATABASE_URL") or f"sqlite:///{args.db}"
    if args.fresh and url.startswith("sqlite:///"):
        for suffix in ("", "-wal", "-shm"):
            Path(args.db + suffix).unlink(missing_ok=True)
    engine = make_engine(url)
    if args.fresh and not url.startswith("sqlite:///"):
        from web.db import Base, load_models

        load_models()
        Base.metadata.drop_all(engine)
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    migrate(engine)
    sessions = sessionmaker(engine)
    with sessions() as db:
        existing = db.scalar(select(func.count()).select_from(Message))
    generated = None
    if existing == 0:
        t0 = time.perf_counter()
        generated = generate(engine, args.messages, args.days)
        generated["seconds"] = round(time.perf_counter() - t0, 1)
        if engine.dialect.name == "sqlite":
            with engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE")
        else:
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE")
    with sessions() as db:
        total = db.scalar(select(func.count()).select_from(Message))
        last = db.scalar(select(func.max(Message.created_at)))
    last = last if last.tzinfo else last.replace(tzinfo=timezone.utc)
    end = last + timedelta(seconds=1)
    month = Filters(end - timedelta(days=args.days), end, None, "day")
    week_hours = Filters(end - timedelta(days=7), end, None, "hour")
    wechat = Filters(month.start, end, "wechat", "day")
    result = {
        "database": engine.dialect.name, "messages": total, "generated": generated,
        "all_30_days": time_figures(sessions, month, FIGURES, args.repeat),
        "hourly_7_days": time_figures(sessions, week_hours, ("volume", "outcomes"), args.repeat),
        "wechat_30_days": time_figures(sessions, wechat, FIGURES, args.repeat),
    }
    worst = max(v["median_s"] for k in ("all_30_days", "hourly_7_days", "wechat_30_days") for v in result[k].values())
    result["slowest_median_s"] = worst
    engine.dispose()
    print(json.dumps(result, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
