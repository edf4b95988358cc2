"""Agent API: login, queues, one winner per claim, replies reaching the user, work order, close, rating."""
import threading

import pytest

from web.service import ChatInputError

PASSWORD = "correct-horse-9"


def chat(client, message, session_id=None):
    return client.post("/api/chat", json={"message": message, "session_id": session_id}).get_json()


@pytest.fixture()
def agents(app):
    return app.extensions["agent_service"]


def login(client, agents, name="li", queues=("商事登记",), role="agent"):
    agents.add_agent(name, PASSWORD, list(queues), role=role, display_name=f"{name}坐席")
    body = client.post("/api/agent/login", json={"username": name, "password": PASSWORD}).get_json()
    return {"Authorization": f"Bearer {body['token']}"}


def handoff(client):
    sid = chat(client, "简易注销要公示多久")["session_id"]
    body = chat(client, "转人工。我们公司在天河区，信用代码91350100M000100Y43，电话13812345678", sid)
    return sid, body["handoff"]["ticket_id"]


def test_login_rejects_bad_credentials_and_requests_without_a_token(client, agents):
    agents.add_agent("wang", PASSWORD, ["综合"])
    bad = client.post("/api/agent/login", json={"username": "wang", "password": "wrong-password"})
    assert bad.status_code == 401 and bad.get_json()["error"] == "bad_credentials"
    assert client.post("/api/agent/login", json={"username": "nobody", "password": PASSWORD}).status_code == 401
    assert client.get("/api/agent/tickets", headers={"Authorization": "Bearer forged"}).status_code == 401
    with client.session_transaction() as s:
        s.clear()
    assert client.get("/api/kb/search?q=注销").status_code == 401


def test_accounts_are_validated_and_passwords_hashed(agents, service):
    from web.db import Agent

    with pytest.raises(ChatInputError, match="密码至少8位"):
        agents.add_agent("zhao", "short", ["综合"])
    with pytest.raises(ChatInputError, match="未知队列"):
        agents.add_agent("zhao", PASSWORD, ["税务"])
    agents.add_agent("zhao", PASSWORD, ["社保"])
    with pytest.raises(ChatInputError) as exc:
        agents.add_agent("zhao", PASSWORD, ["社保"])
    assert exc.value.status == 409
    with service.sessions() as db:
        stored = db.query(Agent).filter_by(username="zhao").one().password_hash
    assert PASSWORD not in stored and stored.startswith(("scrypt:", "pbkdf2:"))


def test_a_ticket_is_worked_from_queue_to_rating(client, agents):
    sid, ticket_id = handoff(client)
    auth = login(client, agents)
    queue = client.get("/api/agent/tickets?queue=商事登记", headers=auth).get_json()["tickets"]
    assert [t["id"] for t in queue] == [ticket_id] and queue[0]["reason"] == "user_request"
    assert "简易注销" in queue[0]["summary"] and queue[0]["waiting_seconds"] >= 0

    ticket = client.post(f"/api/agent/tickets/{ticket_id}/claim", headers=auth).get_json()
    assert ticket["status"] == "assigned" and ticket["assigned_at"]
    form = ticket["form"]
    assert form["district"] == "天河" and form["credit_code"] == "91350100M000100Y43" and form["credit_code_valid"]
    assert form["phone"] == "13812345678" and [m["role"] for m in ticket["messages"]][:2] == ["user", "bot"]
    assert client.get(f"/api/chat/{sid}/messages", headers={}).get_json()["status"] == "assigned"

    reply = client.post(f"/api/agent/tickets/{ticket_id}/reply", json={"text": "您好，简易注销公示期为20天。"},
                        headers=auth).get_json()
    seen = client.get(f"/api/chat/{sid}/messages?after={reply['message']['seq'] - 1}").get_json()
    assert seen["messages"][0] == {**reply["message"]} and seen["agent"] == "li坐席"
    # while the agent has the session the bot does not talk over them
    assert chat(client, "好的，那材料呢？", sid)["type"] == "handoff"

    closed = client.post(f"/api/agent/tickets/{ticket_id}/close", json={"resolution": "已解答公示期"}, headers=auth)
    assert closed.get_json()["status"] == "closed" and closed.get_json()["first_reply_at"]
    state = client.get(f"/api/chat/{sid}/messages").get_json()
    assert state["status"] == "bot" and state["messages"][-1]["type"] == "rating_request"
    assert client.post(f"/api/chat/{sid}/rating", json={"rating": 6}).status_code == 400
    assert client.post(f"/api/chat/{sid}/rating", json={"rating": 5, "comment": "很快"}).get_json() == {"ok": True}
    assert client.post(f"/api/chat/{sid}/rating", json={"rating": 4}).status_code == 409
    assert chat(client, "简易注销要公示多久", sid)["type"] == "answer"  # the bot is back
    history = client.get("/api/agent/tickets?status=closed", headers=auth).get_json()["tickets"]
    assert history[0]["rating"] == 5


def test_only_one_of_two_agents_claiming_at_once_wins(client, agents, app):
    _, ticket_id = handoff(client)
    agents.add_agent("a1", PASSWORD, ["商事登记"])
    agents.add_agent("a2", PASSWORD, ["商事登记"])
    tokens = [agents.login(name, PASSWORD)[1] for name in ("a1", "a2")]
    results, barrier = [], threading.Barrier(2)

    def claim(agent):
        barrier.wait()
        try:
            agents.claim(agent, ticket_id)
            results.append("won")
        except ChatInputError as exc:
            results.append(exc.code)

    threads = [threading.Thread(target=claim, args=(a,)) for a in tokens]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["already_claimed", "won"]


def test_agents_only_see_and_work_their_own_queues(client, agents):
    _, ticket_id = handoff(client)
    auth = login(client, agents, "gjj", queues=("公积金",))
    assert client.get("/api/agent/tickets", headers=auth).get_json()["tickets"] == []
    assert client.post(f"/api/agent/tickets/{ticket_id}/claim", headers=auth).status_code == 403
    assert client.get("/api/agent/tickets?queue=商事登记", headers=auth).status_code == 403
    boss = login(client, agents, "boss", queues=(), role="supervisor")
    assert [t["id"] for t in client.get("/api/agent/tickets", headers=boss).get_json()["tickets"]] == [ticket_id]


def test_reply_requires_the_claim_and_close_requires_a_resolution(client, agents):
    _, ticket_id = handoff(client)
    auth = login(client, agents)
    assert client.post(f"/api/agent/tickets/{ticket_id}/reply", json={"text": "hi"}, headers=auth).status_code == 409
    client.post(f"/api/agent/tickets/{ticket_id}/claim", headers=auth)
    assert client.post(f"/api/agent/tickets/{ticket_id}/reply", json={"text": " "}, headers=auth).status_code == 400
    assert client.post(f"/api/agent/tickets/{ticket_id}/close", json={}, headers=auth).status_code == 400
    assert client.post("/api/agent/tickets/T-none/claim", headers=auth).status_code == 404


def test_work_order_edits_are_validated(client, agents):
    _, ticket_id = handoff(client)
    auth = login(client, agents)
    client.post(f"/api/agent/tickets/{ticket_id}/claim", headers=auth)
    url = f"/api/agent/tickets/{ticket_id}"
    for fields, needle in [({"district": "天和区"}, "未知区"), ({"credit_code": "91350100M000100Y44"}, "校验位"),
                           ({"phone": "12"}, "电话"), ({"colour": "red"}, "未知字段"), ({"company": 5}, "字符串")]:
        resp = client.patch(url, json=fields, headers=auth)
        assert resp.status_code == 400 and needle in resp.get_json()["message"], fields
    body = client.patch(url, json={"district": "番禺区", "company": "广州某某科技有限公司", "scenario": "商事登记/注销登记"},
                        headers=auth).get_json()
    assert body["form"]["district"] == "番禺" and body["district"] == "番禺" and body["form"]["company"] == "广州某某科技有限公司"
    moved = client.patch(url, json={"queue": "综合"}, headers=auth)
    assert moved.status_code == 200
    boss = login(client, agents, "boss", queues=(), role="supervisor")
    waiting = client.get("/api/agent/tickets?queue=综合", headers=boss).get_json()["tickets"]
    assert [t["id"] for t in waiting] == [ticket_id] and waiting[0]["status"] == "waiting"


def test_console_cookie_needs_the_csrf_header(client, agents):
    agents.add_agent("cookie", PASSWORD, ["商事登记"])
    login_body = client.post("/api/agent/login", json={"username": "cookie", "password": PASSWORD}).get_json()
    _, ticket_id = handoff(client)
    assert client.get("/api/agent/me").get_json()["agent"]["username"] == "cookie"  # a GET needs no header
    assert client.post(f"/api/agent/tickets/{ticket_id}/claim").status_code == 403
    ok = client.post(f"/api/agent/tickets/{ticket_id}/claim", headers={"X-CSRF-Token": login_body["csrf_token"]})
    assert ok.status_code == 200
    client.post("/api/agent/logout", headers={"X-CSRF-Token": login_body["csrf_token"]})
    assert client.get("/api/agent/me").status_code == 401


def test_kb_search_and_side_panel_suggestions(client, agents):
    _, ticket_id = handoff(client)
    auth = login(client, agents)
    results = client.get("/api/kb/search?q=住房公积金缴存比例&k=3", headers=auth).get_json()["results"]
    assert results[0]["id"] == "T-GJJ-002" and results[0]["answer"] and results[0]["effective_from"]
    assert client.get("/api/kb/search?q=", headers=auth).status_code == 400
    assert client.get("/api/kb/search?q=注销&k=99", headers=auth).status_code == 400
    panel = client.get(f"/api/agent/tickets/{ticket_id}/suggestions", headers=auth).get_json()
    assert "简易注销" in panel["based_on"] and panel["suggestions"][0]["legal_basis"]


def test_handoff_after_a_fallback_is_recorded_as_low_confidence(client):
    sid = chat(client, "火星上的公司怎么报税")["session_id"]
    assert chat(client, "转人工", sid)["handoff"]["reason"] == "low_confidence"


def test_cli_agent_add(tmp_path, monkeypatch, capsys):
    import io

    from hotline.cli import main

    monkeypatch.setenv("HOTLINE_VAR_DIR", str(tmp_path))
    monkeypatch.setattr("sys.stdin", io.StringIO("a-long-password\n"))
    assert main(["agent", "add", "chen", "--queue", "社保,公积金", "--password-stdin"]) == 0
    assert "chen" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["agent", "add", "chen", "--queue", "社保"]) == 1  # taken
    assert main(["agent", "add", "liu", "--queue", "税务"]) == 1
    assert "未知队列" in capsys.readouterr().err
    assert main(["agent", "add", "liu", "--queue", "综合"]) == 0
    assert "password: " in capsys.readouterr().out  # generated and shown once


def test_serve_creates_one_first_supervisor_account(tmp_path):
    from tests.conftest import make_config
    from web.db import make_engine, migrate
    from web.server import first_account

    config = make_config(tmp_path)
    engine = make_engine(config.db_url)
    migrate(engine)
    user, password = first_account(config, engine)
    assert first_account(config, engine) is None  # only when there is no account yet
    assert password in (tmp_path / "first_account.txt").read_text()
    from sqlalchemy.orm import sessionmaker

    from web.agents import AgentService

    token, agent = AgentService(sessionmaker(engine)).login(user, password)
    assert token and agent.role == "supervisor"
    engine.dispose()
