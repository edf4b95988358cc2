"""Dashboard figures on generated conversations with known counts (SQLite and PostgreSQL), CSV export, masking, auth."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from web.analytics import FIGURES, Filters, cluster_texts, compute, normalize_question, to_utc, unanswered_clusters
from web.db import ChatSession, Feedback, Message, Ticket

CST = timezone(timedelta(hours=8))
DAY1, DAY2 = date(2026, 3, 2), date(2026, 3, 3)


def at(day: date, hh: int, mm: int) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=CST).astimezone(timezone.utc)


# (session, channel, district, local time, user text, bot type, reason, line, item, kb_id)
TURNS = [
    ("s1", "web", "天河", at(DAY1, 9, 10), "个体户怎么注销", "answer", None, "商事登记", "注销登记", "KP1"),
    ("s1", "web", "天河", at(DAY1, 9, 20), "犬只登记怎么办理", "fallback", "no_match", None, None, None),
    ("s1", "web", "天河", at(DAY1, 9, 30), "转人工", "handoff", "user_request", "商事登记", None, None),
    ("s1", "web", "天河", at(DAY1, 9, 40), "在吗", "handoff", "awaiting_agent", None, None, None),
    ("s2", "wechat", "海珠", at(DAY1, 10, 5), "请问犬只登记在哪办？", "fallback", "no_match", None, None, None),
    ("s2", "wechat", "海珠", at(DAY1, 10, 15), "公积金怎么提取", "answer", None, "公积金", "提取", "KP2"),
    ("s2", "wechat", "海珠", at(DAY1, 10, 20), "我电话13812345678 投诉办事慢", "handoff", "complaint", "公积金", None, None),
    ("s3", "web", None, at(DAY2, 14, 0), "个体户怎么注销？", "answer", None, "商事登记", "注销登记", "KP1"),
    ("s3", "web", None, at(DAY2, 14, 5), "注销要多久", "clarify", "ambiguous", "商事登记", "注销登记", "KP1"),
    ("s3", "web", None, at(DAY2, 14, 10), "你好", "chitchat", "greeting", None, None, None),
    ("s3", "web", None, at(DAY2, 14, 30), "我要投诉", "handoff", "complaint", "商事登记", None, None),
    ("s4", "web", None, at(date(2026, 2, 20), 9, 0), "犬只登记怎么办理", "fallback", "no_match", None, None, None),
]
TITLES = {"KP1": "个体工商户注销登记", "KP2": "住房公积金提取"}


def seed(sessions, agent_ids: tuple[int, int]) -> None:
    """The conversations above, their tickets, two thumbs and the agents' work."""
    a1, a2 = agent_ids
    with sessions() as db:
        seqs: dict[str, int] = {}
        for sid, channel in {(t[0], t[1]) for t in TURNS}:
            db.add(ChatSession(id=sid, channel=channel, state={}, elements={}, created_at=at(DAY1, 0, 0)))
        db.flush()
        for sid, channel, district, when, text, kind, reason, line, item, kb_id in TURNS:
            seq = seqs.get(sid, 0)
            db.add(Message(session_id=sid, seq=seq + 1, role="user", text=text, sources=[], created_at=when,
                           channel=channel, district=district))
            sources = [{"id": kb_id, "title": TITLES[kb_id], "score": 0.9, "legal_basis": None}] if kb_id else []
            db.add(Message(session_id=sid, seq=seq + 2, role="bot", text="回复", type=kind, reason=reason,
                           confidence=0.5, sources=sources, created_at=when + timedelta(seconds=1), channel=channel,
                           line=line, item=item, district=district, kb_id=kb_id))
            seqs[sid] = seq + 2
        db.add(Feedback(session_id="s2", message_seq=4, value=-1, comment="", created_at=at(DAY1, 10, 16)))
        db.add(Feedback(session_id="s3", message_seq=2, value=1, comment="", created_at=at(DAY2, 14, 1)))

        def ticket(tid, sid, channel, queue, reason, status, created, line, district, agent=None, wait=None,
                   first=None, resolve=None, rating=None):
            db.add(Ticket(id=tid, session_id=sid, channel=channel, queue=queue, reason=reason, status=status, summary="",
                          elements={}, form={}, line=line, district=district, transcript_seq=0, created_at=created,
                          agent_id=agent, rating=rating,
                          assigned_at=created + timedelta(minutes=wait) if wait is not None else None,
                          first_reply_at=created + timedelta(minutes=first) if first is not None else None,
                          closed_at=created + timedelta(minutes=resolve) if resolve is not None else None))

        ticket("T1", "s1", "web", "商事登记", "user_request", "closed", at(DAY1, 9, 30), "商事登记", "天河", a1, 10, 12, 30, 4)
        ticket("T2", "s2", "wechat", "公积金", "complaint", "closed", at(DAY1, 10, 20), "公积金", "海珠", a1, 6, 10, 60, 2)
        ticket("T3", "s3", "web", "商事登记", "complaint", "assigned", at(DAY2, 14, 30), "商事登记", None, a2, 4, 5)
        ticket("T4", "s3", "web", "商事登记", "user_request", "closed", at(DAY2, 14, 40), "商事登记", None, a2, 40, 42, 60)
        db.commit()


@pytest.fixture()
def seeded(app, service):
    agents = app.extensions["agent_service"]
    a1 = agents.add_agent("lee", "password-1", ["商事登记", "公积金"], display_name="李坐席")
    a2 = agents.add_agent("zhang", "password-2", ["商事登记"], display_name="张坐席")
    agents.add_agent("boss", "password-boss", [], role="supervisor", display_name="王主管")
    seed(service.sessions, (a1.id, a2.id))
    return service.sessions


def figure(sessions, name, channel=None, bucket="day"):
    table = compute(sessions, name, Filters(to_utc(DAY1), to_utc(DAY2, end=True), channel, bucket))
    return [list(r) for r in table.rows]


def by_key(rows, key=0):
    return {r[key]: r[key + 1:] for r in rows}


def test_volume_and_breakdowns(seeded):
    assert figure(seeded, "volume") == [["2026-03-02", 7, 4, 3], ["2026-03-03", 4, 4, 0]]  # all, 网页, 微信
    assert figure(seeded, "volume", bucket="hour") == [
        ["2026-03-02 09:00", 4, 4, 0], ["2026-03-02 10:00", 3, 0, 3], ["2026-03-03 14:00", 4, 4, 0]]
    assert by_key(figure(seeded, "by_line")) == {"商事登记": [5, 45.5], "未识别": [4, 36.4], "公积金": [2, 18.2]}
    assert by_key(figure(seeded, "by_district")) == {"天河": [4, 36.4], "未识别": [4, 36.4], "海珠": [3, 27.3]}
    assert by_key(figure(seeded, "by_channel")) == {"网页": [8, 72.7], "微信公众号": [3, 27.3]}
    assert figure(seeded, "by_item") == [["商事登记", "注销登记", 3], ["公积金", "提取", 1]]
    assert figure(seeded, "volume", channel="wechat") == [["2026-03-02", 3, 0, 3]]


def test_local_hours_and_days_from_utc_hours():
    from web.analytics import local_bucket, roll_up

    assert local_bucket("2026-03-01 15", "day") == "2026-03-01"  # 23:00 in Guangzhou
    assert local_bucket("2026-03-01 16", "day") == "2026-03-02"  # midnight
    assert local_bucket(datetime(2026, 3, 1, 16), "hour") == "2026-03-02 00:00"  # PostgreSQL hands back datetimes
    assert roll_up([("2026-03-01 16", 2, 1), ("2026-03-01 15", 1, 0), ("2026-03-02 03", 4, None)], "day") == [
        ["2026-03-01", 1, 0], ["2026-03-02", 6, 1]]
    assert to_utc(DAY1) == datetime(2026, 3, 1, 16, tzinfo=timezone.utc)
    assert to_utc(DAY1, end=True) == datetime(2026, 3, 2, 16, tzinfo=timezone.utc)


def test_outcome_rates_leave_out_turns_that_wait_for_an_agent(seeded):
    assert figure(seeded, "outcomes") == [
        ["2026-03-02", 6, 2, 0, 2, 2, 33.3, 0.0, 33.3, 33.3],
        ["2026-03-03", 4, 1, 1, 0, 1, 25.0, 25.0, 0.0, 25.0]]
    assert figure(seeded, "summary") == [[10, 3, 30.0, 2, 4, 2, 3.0]]


def test_handoffs_and_complaints(seeded):
    assert by_key(figure(seeded, "handoff_reasons")) == {"用户要求转人工": [2, 50.0], "投诉/反映": [2, 50.0]}
    assert sorted(figure(seeded, "complaints_by_subject")) == [["公积金", "公积金", 1], ["商事登记", "商事登记", 1]]
    assert by_key(figure(seeded, "complaints_by_district")) == {"海珠": [1], "未识别": [1]}
    assert figure(seeded, "handoff_reasons", channel="wechat") == [["投诉/反映", 1, 100.0]]


def test_top_questions_merge_phrasings_and_mask_phones(seeded):
    rows = figure(seeded, "top_questions")
    assert rows[0] == ["个体户怎么注销", 2]
    assert len(rows) == 10  # 11 user texts in range; 个体户怎么注销 with and without ？ are one
    texts = [r[0] for r in rows]
    assert "我电话138****5678 投诉办事慢" in texts and not any("13812345678" in t for t in texts)
    assert figure(seeded, "top_knowledge") == [["KP1", "个体工商户注销登记", 2], ["KP2", "住房公积金提取", 1]]


def test_unanswered_questions_are_clustered(seeded):
    rows = unanswered_clusters(seeded, DAY1, DAY2)
    assert [(r["text"], r["count"]) for r in rows] == [("犬只登记怎么办理", 2), ("公积金怎么提取", 1)]
    assert rows[0]["examples"] == ["请问犬只登记在哪办？"]
    assert rows[0]["last_seen"] == "2026-03-02T10:05:01+08:00"
    assert len({r["key"] for r in rows}) == 2 and all(len(r["key"]) == 12 for r in rows)
    # s4's fallback is outside the range; a channel narrows it
    assert [(r["text"], r["count"]) for r in unanswered_clusters(seeded, DAY1, DAY2, channel="wechat")] == [
        ("公积金怎么提取", 1), ("请问犬只登记在哪办？", 1)]
    assert [r["count"] for r in unanswered_clusters(seeded, date(2026, 2, 1), DAY2)] == [3, 1]
    assert len(unanswered_clusters(seeded, DAY1, DAY2, limit=1)) == 1


def test_agent_side_times_are_in_minutes_with_medians(seeded):
    queues = by_key(figure(seeded, "queues"))
    # 商事登记: waits 10, 4, 40 → avg 18, median 10; first replies 12, 5, 42; resolution 30, 60
    assert queues["商事登记"] == [3, 0, 2, 18.0, 10.0, 19.7, 12.0, 45.0, 45.0]
    assert queues["公积金"] == [1, 0, 1, 6.0, 6.0, 10.0, 10.0, 60.0, 60.0]
    agents = by_key(figure(seeded, "agents"))
    assert agents == {"李坐席": [2, 2, 11.0, 45.0, 2, 3.0], "张坐席": [2, 1, 23.5, 60.0, 0, None]}


def test_satisfaction_by_queue_and_line(seeded):
    assert by_key(figure(seeded, "satisfaction_queue")) == {"公积金": [1, 2.0, 0, 1, 0, 0, 0],
                                                            "商事登记": [1, 4.0, 0, 0, 0, 1, 0]}
    assert by_key(figure(seeded, "satisfaction_line")) == {"公积金": [1, 2.0, 0, 1, 0.0],
                                                           "商事登记": [1, 4.0, 1, 0, 100.0]}


def test_every_figure_handles_an_empty_period(seeded):
    empty = Filters(to_utc(date(2025, 1, 1)), to_utc(date(2025, 1, 2), end=True), "cli", "hour")
    for name in FIGURES:
        table = compute(seeded, name, empty)
        assert table.rows == [] or name == "summary"


def test_clustering_is_deterministic_and_keeps_short_topics_apart():
    items = [("犬只登记怎么办理", 5, None), ("请问犬只登记怎么办理啊？", 2, None), ("犬只登记在哪办", 1, None),
             ("公司注销", 3, None), ("公司注册", 2, None), ("！！", 9, None)]
    first = [(c["text"], c["count"], c["examples"]) for c in cluster_texts(items)]
    assert first == [(c["text"], c["count"], c["examples"]) for c in cluster_texts(list(reversed(items)))]
    assert first == [("犬只登记怎么办理", 8, ["请问犬只登记怎么办理啊？", "犬只登记在哪办"]), ("公司注销", 3, []),
                     ("公司注册", 2, [])]  # punctuation alone is no question
    assert normalize_question("请问，犬只登记怎么办理？？") == normalize_question("犬只登记 怎么办理") == "犬只登记办理"


# ---- HTTP ----------------------------------------------------------------------------------------------
def login(client, username="boss", password="password-boss") -> dict:
    res = client.post("/api/agent/login", json={"username": username, "password": password})
    assert res.status_code == 200
    return {"Authorization": f"Bearer {res.get_json()['token']}"}


def test_json_endpoint_returns_the_figure_with_its_filters(client, seeded):
    auth = login(client)
    res = client.get("/api/dashboard/by_channel?start=2026-03-02&end=2026-03-03", headers=auth)
    assert res.status_code == 200
    body = res.get_json()
    assert body["filters"] == {"start": "2026-03-02", "end": "2026-03-03", "channel": None, "bucket": "day"}
    assert body["columns"] == ["渠道", "咨询量", "占比%"] and body["chart"]["kind"] == "bar"
    assert sorted(body["rows"]) == [["微信公众号", 3, 27.3], ["网页", 8, 72.7]]
    names = [f["name"] for f in client.get("/api/dashboard", headers=auth).get_json()["figures"]]
    assert set(names) == set(FIGURES)


def test_csv_export_has_a_bom_and_masked_text(client, seeded):
    auth = login(client)
    res = client.get("/api/dashboard/top_questions?start=2026-03-02&end=2026-03-03&format=csv", headers=auth)
    assert res.status_code == 200 and res.mimetype == "text/csv"
    assert "attachment" in res.headers["Content-Disposition"]
    raw = res.get_data()
    assert raw.startswith("\ufeff".encode("utf-8"))
    text = raw.decode("utf-8-sig")
    lines = text.splitlines()
    assert lines[0] == "问题,次数" and lines[1] == "个体户怎么注销,2"
    assert "138****5678" in text and "13812345678" not in text
    res = client.get("/api/dashboard/agents?start=2026-03-02&end=2026-03-03&format=csv", headers=auth)
    assert sorted(res.get_data().decode("utf-8-sig").splitlines()[1:]) == ["张坐席,2,1,23.5,60.0,0,",
                                                                            "李坐席,2,2,11.0,45.0,2,3.0"]


def test_csv_cells_that_excel_would_run_as_formulas_stay_text(client, seeded):
    with seeded() as db:
        db.add(ChatSession(id="evil", channel="web", state={}, elements={}))
        db.add(Message(session_id="evil", seq=1, role="user", text="=HYPERLINK(\"http://x\",\"点我\")", sources=[],
                       created_at=at(DAY1, 11, 0), channel="web"))
        db.commit()
    res = client.get("/api/dashboard/top_questions?start=2026-03-02&end=2026-03-03&format=csv", headers=login(client))
    text = res.get_data().decode("utf-8-sig")
    assert "\"'=HYPERLINK(\"\"http://x\"\",\"\"点我\"\")\",1" in text.splitlines()


def test_every_figure_and_its_csv_answer_over_http(client, seeded):
    auth = login(client)
    for name in FIGURES:
        for extra in ("", "&format=csv", "&bucket=hour&channel=wechat"):
            res = client.get(f"/api/dashboard/{name}?start=2026-03-01&end=2026-03-04{extra}", headers=auth)
            assert res.status_code == 200, (name, extra, res.get_data(as_text=True))


@pytest.mark.parametrize("query, code", [
    ("start=2026-13-01", "invalid_start"), ("end=yesterday", "invalid_end"),
    ("start=2026-03-05&end=2026-03-01", "invalid_range"), ("start=2024-01-01&end=2026-03-01", "invalid_range"),
    ("channel=fax", "invalid_channel"), ("bucket=week", "invalid_bucket"),
    ("start=2026-01-01&end=2026-03-01&bucket=hour", "invalid_range"), ("format=xlsx", "invalid_format"),
])
def test_bad_parameters_are_refused_with_the_error_shape(client, seeded, query, code):
    res = client.get(f"/api/dashboard/volume?{query}", headers=login(client))
    assert res.status_code == 400
    body = res.get_json()
    assert body["error"] == code and body["message"]


def test_unknown_figure_is_404(client, seeded):
    res = client.get("/api/dashboard/nothing", headers=login(client))
    assert res.status_code == 404 and res.get_json()["error"] == "unknown_figure"


def test_only_supervisors_see_the_dashboard(app, seeded):
    client = app.test_client()
    assert client.get("/api/dashboard/volume").status_code == 401
    assert client.get("/api/dashboard/volume?format=csv").get_json()["error"] == "unauthorized"
    assert client.get("/api/dashboard/volume", headers={"Authorization": "Bearer nonsense"}).status_code == 401
    page = client.get("/dashboard")  # a browser without a login goes to the login page and comes back
    assert page.status_code == 302 and page.headers["Location"].endswith("/agent/login?next=/dashboard")
    page = client.get("/dashboard?start=2026-03-02")
    assert page.headers["Location"].endswith("/agent/login?next=/dashboard%3Fstart%3D2026-03-02")
    agent = login(client, "lee", "password-1")  # an agent, not a supervisor (bearer and now also cookie)
    res = client.get("/api/dashboard/volume", headers=agent)
    assert res.status_code == 403 and res.get_json()["error"] == "forbidden"
    assert client.get("/dashboard").status_code == 403
    assert "没有权限" in client.get("/dashboard").get_data(as_text=True)


def test_dashboard_page_for_a_supervisor_cookie(client, seeded):
    client.post("/api/agent/login", json={"username": "boss", "password": "password-boss"})
    res = client.get("/dashboard?start=2026-03-02&end=2026-03-03")
    assert res.status_code == 200
    html = res.get_data(as_text=True)
    assert "运营看板" in html and "王主管" in html and 'value="2026-03-02"' in html
    assert all(f'data-figure="{name}"' in html for name in FIGURES)
    assert "http://" not in html.replace('"http://www.w3.org', "") and "https://" not in html  # nothing from the internet
    assert "script-src 'self'" in res.headers["Content-Security-Policy"]
    bad = client.get("/dashboard?start=2026-02-30")  # a hand-edited address: the reason, and the default filters
    assert bad.status_code == 400 and "YYYY-MM-DD" in bad.get_data(as_text=True)
    assert "<script>" not in client.get("/dashboard?channel=<script>").get_data(as_text=True)
    assert client.get("/api/dashboard/summary?start=2026-03-02&end=2026-03-03").status_code == 200  # cookie, GET
    with client.get("/static/dashboard/dashboard.js") as res:
        js = res.get_data(as_text=True)
    assert res.status_code == 200 and "innerHTML" not in js and "textContent" in js
