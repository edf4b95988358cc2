"""POST /api/chat and /healthz through the Flask test client, against the contract."""
import pytest

from tests.test_cli import CONTRACT_KEYS


def chat(client, message, session_id=None, **extra):
    return client.post("/api/chat", json={"message": message, "session_id": session_id, "channel": "web", **extra})


def test_answer_has_the_contract_shape(client):
    resp = chat(client, "住房公积金缴存比例最低是多少")
    body = resp.get_json()
    assert resp.status_code == 200 and set(body) == CONTRACT_KEYS
    assert body["type"] == "answer" and body["sources"][0]["id"] == "T-GJJ-002"
    assert 0 <= body["confidence"] <= 1 and body["handoff"] is None


def test_session_continues_and_unknown_session_starts_a_new_one(client):
    first = chat(client, "有限责任公司注销登记需要哪些材料？").get_json()
    second = chat(client, "那个体户呢？", first["session_id"]).get_json()
    assert second["session_id"] == first["session_id"] and second["sources"][0]["id"] == "T-ZX-002"
    fresh = chat(client, "你好", "no-such-session").get_json()
    assert fresh["session_id"] != "no-such-session" and fresh["type"] == "chitchat"


def test_handoff_creates_a_ticket_and_the_bot_stops_answering(client):
    body = chat(client, "转人工").get_json()
    assert body["type"] == "handoff" and body["handoff"]["ticket_id"] and body["handoff"]["reason"] == "user_request"
    again = chat(client, "简易注销要公示多久", body["session_id"]).get_json()
    assert again["type"] == "handoff" and again["handoff"]["ticket_id"] == body["handoff"]["ticket_id"]


@pytest.mark.parametrize("payload, status, code", [
    ({"message": ""}, 400, "empty_message"),
    ({"message": "   "}, 400, "empty_message"),
    ({"message": 123}, 400, "invalid_message"),
    ({"message": None}, 400, "invalid_message"),
    ({"message": "x" * 2001}, 413, "message_too_long"),
    ({"message": "你好", "session_id": 5}, 400, "invalid_session_id"),
    ({"message": "你好", "channel": "fax"}, 400, "invalid_channel"),
    (["not", "an", "object"], 400, "invalid_json"),
])
def test_bad_requests_get_the_error_shape(client, payload, status, code):
    resp = client.post("/api/chat", json=payload)
    assert resp.status_code == status
    assert resp.get_json()["error"] == code and resp.get_json()["message"]


def test_non_json_body_is_400(client):
    resp = client.post("/api/chat", data="message=hi", content_type="application/x-www-form-urlencoded")
    assert resp.status_code == 400 and resp.get_json()["error"] == "invalid_json"


def test_html_is_stored_as_text_and_never_escaped_into_markup(client, service):
    from sqlalchemy import select

    from web.db import Message

    raw = "<img src=x onerror=alert(1)>"
    resp = chat(client, raw)
    assert resp.mimetype == "application/json"
    with service.sessions() as db:
        stored = db.scalars(select(Message).where(Message.session_id == resp.get_json()["session_id"])
                            .order_by(Message.seq)).all()
    assert [m.role for m in stored] == ["user", "bot"] and stored[0].text == raw


def test_unknown_api_route_is_json_404(client):
    resp = client.get("/api/nope")
    assert resp.status_code == 404 and resp.get_json()["error"] == "not_found"


def test_healthz_reports_index_and_database(client):
    body = client.get("/healthz").get_json()
    assert body["status"] == "ok" and body["database"] == "ok" and body["knowledge_points"] == 7


def test_oversized_body_is_a_json_413(client):
    resp = client.post("/api/chat", data=b'{"message": "' + b"a" * 70000 + b'"}', content_type="application/json")
    assert resp.status_code == 413 and resp.get_json()["error"] == "request_entity_too_large"


def test_rate_limits_per_session_and_per_ip(service):
    from dataclasses import replace

    from web import create_app

    service.config = replace(service.config, rate_limit_session_per_minute=3, rate_limit_ip_per_minute=5)
    client = create_app(service.config, chat_service=service).test_client()
    sid = chat(client, "你好").get_json()["session_id"]
    codes = [chat(client, "你好", sid).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    assert chat(client, "你好", sid).get_json()["error"] == "rate_limited"
    assert chat(client, "你好").status_code == 429  # the IP's 5 per minute are used up too


def test_messages_after_n_and_feedback(client):
    body = chat(client, "简易注销要公示多久").get_json()
    sid = body["session_id"]
    msgs = client.get(f"/api/chat/{sid}/messages?after=0").get_json()["messages"]
    assert [(m["seq"], m["role"]) for m in msgs] == [(1, "user"), (2, "bot")] and msgs[1]["type"] == "answer"
    assert client.get(f"/api/chat/{sid}/messages?after=2").get_json()["messages"] == []
    assert client.get(f"/api/chat/{sid}/messages?after=x").status_code == 400
    assert client.get("/api/chat/nope/messages").status_code == 404
    assert client.post("/api/feedback", json={"session_id": sid, "message_seq": 2, "value": -1}).get_json() == {"ok": True}
    assert client.post("/api/feedback", json={"session_id": sid, "message_seq": 1, "value": 1}).status_code == 404
    assert client.post("/api/feedback", json={"session_id": sid, "message_seq": 2, "value": 5}).status_code == 400


def test_elements_are_kept_on_the_session_and_copied_to_the_ticket(client, service):
    from sqlalchemy import select

    from web.db import ChatSession, Ticket

    sid = chat(client, "我们公司叫广州市某某贸易有限公司，信用代码91350100M000100Y43").get_json()["session_id"]
    body = chat(client, "转人工，电话13812345678", sid).get_json()
    with service.sessions() as db:
        elements = db.get(ChatSession, sid).elements
        ticket = db.scalar(select(Ticket).where(Ticket.id == body["handoff"]["ticket_id"]))
    assert elements["company"] == "广州市某某贸易有限公司" and elements["credit_code_valid"] is True
    assert ticket.elements["phone"] == "13812345678" and ticket.elements["credit_code"] == "91350100M000100Y43"


def test_handoff_tells_the_user_the_ticket_and_queue_place(client):
    first = chat(client, "转人工").get_json()
    second = chat(client, "我要人工客服").get_json()
    assert first["handoff"]["ticket_id"] in first["reply"] and "第一位" in first["reply"]
    assert "前面还有1位" in second["reply"] and second["handoff"]["queue"] == first["handoff"]["queue"] == "综合"


def test_off_hours_handoff_says_when_agents_work(service, client):
    from dataclasses import replace
    from datetime import datetime, timezone

    from web.service import agents_on_duty, duty_hours_text

    config = replace(service.config, agent_hours="09:00-18:00", agent_days="12345")
    friday_10_beijing = datetime(2026, 12, 4, 2, 0, tzinfo=timezone.utc)
    saturday_10_beijing = datetime(2026, 12, 5, 2, 0, tzinfo=timezone.utc)
    friday_19_beijing = datetime(2026, 12, 4, 11, 0, tzinfo=timezone.utc)
    assert agents_on_duty(config, friday_10_beijing)
    assert not agents_on_duty(config, saturday_10_beijing) and not agents_on_duty(config, friday_19_beijing)
    assert duty_hours_text(config) == "周一至周五 09:00至18:00"
    service.config = replace(config, agent_days="")  # never on duty
    body = chat(client, "转人工").get_json()
    assert body["type"] == "handoff" and "非工作时间" in body["reply"] and body["handoff"]["ticket_id"] in body["reply"]
