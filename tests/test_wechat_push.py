"""WeChat pushes: handoff to an agent and back, customer-service errors kept and retried, the shared token."""
import threading
import time
import xml.etree.ElementTree as ET

import pytest
from sqlalchemy import select, update

from tests.fake_wechat_api import FakeWeChatApi
from tests.test_wechat import APPID, SECRET, USER, fake_api, wechat  # noqa: F401 - fixtures
from web.db import Ticket

PASSWORD = "correct-horse-9"


def supervisor(app, name="zhao"):
    app.extensions["agent_service"].add_agent(name, PASSWORD, [], role="supervisor", display_name="赵坐席")
    body = app.test_client().post("/api/agent/login", json={"username": name, "password": PASSWORD}).get_json()
    return {"Authorization": f"Bearer {body['token']}"}


def wechat_ticket(app, wx, service):
    assert "工单号" in wx.text(USER, "转人工")
    with service.sessions() as db:
        return db.scalars(select(Ticket).where(Ticket.status != "closed")).one()


@pytest.mark.parametrize("mode", ["plaintext", "compatible", "safe"])
def test_subscribe_ask_handoff_and_agent_reply_in_every_mode(wechat, service, fake_api, mode):  # noqa: F811
    app, wx = wechat(mode)
    client, channel = app.test_client(), app.extensions["wechat"]
    assert "个体户怎么注销" in wx.reply_of(wx.post(wx.fields(USER, "event", Event="subscribe", EventKey="")))["Content"]
    assert "5%" in wx.text(USER, "住房公积金缴存比例最低是多少")
    ticket = wechat_ticket(app, wx, service)
    assert ticket.channel == "wechat"
    auth = supervisor(app)
    assert client.post(f"/api/agent/tickets/{ticket.id}/claim", headers=auth).status_code == 200
    channel.drain()
    assert any("已接入" in t for t in fake_api.texts(USER))  # the agent-joined notice is pushed too
    reply = client.post(f"/api/agent/tickets/{ticket.id}/reply", headers=auth, json={"text": "您好，我是人工客服。"})
    assert reply.get_json()["delivery"]["status"] == "sent" and fake_api.texts(USER)[-1] == "您好，我是人工客服。"
    state = client.get(f"/api/agent/tickets/{ticket.id}/channel", headers=auth).get_json()
    assert state["channel"] == "wechat" and state["window_open"] and state["quota_remaining"] == 3
    assert state["failed"] == [] and state["pending"] == 0 and state["window_expires_at"]
    # the user writes again while the agent has the session: stored for the agent, quota back to 5
    assert "人工" in wx.text(USER, "好的，我们公司在天河区")
    state = client.get(f"/api/agent/tickets/{ticket.id}/channel", headers=auth).get_json()
    assert state["quota_remaining"] == 5
    messages = client.get(f"/api/agent/tickets/{ticket.id}", headers=auth).get_json()["messages"]
    assert [m["text"] for m in messages if m["role"] == "user"][-1] == "好的，我们公司在天河区"
    # the agent closes; the rating request is pushed and a digit from WeChat rates the service
    client.post(f"/api/agent/tickets/{ticket.id}/close", headers=auth, json={"resolution": "已解答"})
    channel.drain()
    assert "打分" in fake_api.texts(USER)[-1]
    assert "感谢您的评价" in wx.text(USER, "5")
    with service.sessions() as db:
        assert db.get(Ticket, ticket.id).rating == 5


def test_invalid_token_is_refreshed_once_and_the_push_resent(wechat, service, fake_api):  # noqa: F811
    app, wx = wechat()
    client = app.test_client()
    ticket = wechat_ticket(app, wx, service)
    auth = supervisor(app)
    client.post(f"/api/agent/tickets/{ticket.id}/claim", headers=auth)
    app.extensions["wechat"].drain()
    fetched = len(fake_api.tokens)
    fake_api.revoke_token()  # someone else fetched a token: ours now gets 40001
    reply = client.post(f"/api/agent/tickets/{ticket.id}/reply", headers=auth, json={"text": "第二条回复"})
    assert reply.get_json()["delivery"]["status"] == "sent" and fake_api.texts(USER)[-1] == "第二条回复"
    assert [code for code, _ in fake_api.refused] == [40001] and len(fake_api.tokens) == fetched + 2  # revoked + 1


@pytest.mark.parametrize("errcode, words", [(45015, "48小时"), (45047, "上限")])
def test_refused_pushes_are_kept_reported_and_retried(wechat, service, fake_api, errcode, words):  # noqa: F811
    app, wx = wechat()
    client = app.test_client()
    ticket = wechat_ticket(app, wx, service)
    auth = supervisor(app)
    client.post(f"/api/agent/tickets/{ticket.id}/claim", headers=auth)
    app.extensions["wechat"].drain()
    fake_api.fail_next = [errcode]
    first = client.post(f"/api/agent/tickets/{ticket.id}/reply", headers=auth, json={"text": "材料清单如下。"})
    delivery = first.get_json()["delivery"]
    assert delivery["status"] == "failed" and words in delivery["error"]
    state = client.get(f"/api/agent/tickets/{ticket.id}/channel", headers=auth).get_json()
    [failed] = state["failed"]
    assert failed["text"] == "材料清单如下。" and words in failed["error"] and failed["seq"] and failed["at"]
    assert (not state["window_open"]) if errcode == 45015 else state["quota_remaining"] == 0
    assert "材料清单如下。" not in fake_api.texts(USER)
    retried = client.post(f"/api/agent/tickets/{ticket.id}/channel/retry", headers=auth).get_json()
    assert retried["retried"] == 1 and retried["status"] == "sent" and retried["state"]["failed"] == []
    assert fake_api.texts(USER)[-1] == "材料清单如下。"


def test_channel_endpoints_need_an_agent_and_say_web_for_web_tickets(wechat, service):  # noqa: F811
    app, _ = wechat()
    client = app.test_client()
    sid = client.post("/api/chat", json={"message": "转人工", "session_id": None}).get_json()["session_id"]
    with service.sessions() as db:
        ticket_id = db.scalar(select(Ticket.id).where(Ticket.session_id == sid))
    assert client.get(f"/api/agent/tickets/{ticket_id}/channel").status_code == 401
    auth = supervisor(app)
    assert client.get(f"/api/agent/tickets/{ticket_id}/channel", headers=auth).get_json() == {"channel": "web"}
    assert client.post(f"/api/agent/tickets/{ticket_id}/channel/retry", headers=auth).status_code == 409
    assert client.get("/api/agent/tickets/T-nope/channel", headers=auth).status_code == 404


# -- the access_token refresher -------------------------------------------------------------------------
def api_for(service, base_url, **kw):
    from web.wechat.api_client import WeChatApi

    return WeChatApi(service.sessions, APPID, SECRET, base_url, **kw)


def test_concurrent_workers_fetch_the_token_once(service):
    with FakeWeChatApi(APPID, SECRET, token_delay=0.4) as fake:
        workers = [api_for(service, fake.base_url) for _ in range(2)]  # two processes' clients, one database
        got, errors = [], []

        def call(api):
            try:
                got.append(api.access_token())
            except Exception as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)

        threads = [threading.Thread(target=call, args=(workers[i % 2],)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == [] and len(fake.tokens) == 1 and got == [fake.tokens[0]] * 8


def test_token_is_refreshed_early_and_a_bad_token_only_once(service):
    from web.wechat.api_client import ApiError
    from web.wechat.models import WeChatToken

    with FakeWeChatApi(APPID, SECRET) as fake:
        api = api_for(service, fake.base_url)
        first = api.access_token()
        assert api.access_token() == first and len(fake.tokens) == 1
        with service.sessions() as db:  # 2 minutes left: inside the 5-minute refresh margin
            db.execute(update(WeChatToken).values(expires_at=time.time() + 120))
            db.commit()
        second = api.access_token()
        assert second != first and len(fake.tokens) == 2
        fake.fail_next = [40001] * 5  # WeChat keeps refusing: one refresh, one resend, then the error
        with pytest.raises(ApiError) as exc:
            api.send_text(USER, "你好")
        assert exc.value.errcode == 40001 and len(fake.tokens) == 3 and len(fake.refused) == 2


def test_unreachable_api_fails_within_bounded_time(service):
    from web.wechat.api_client import ApiError

    api = api_for(service, "http://127.0.0.1:9", timeout=(0.5, 0.5), attempts=2)
    started = time.monotonic()
    with pytest.raises(ApiError) as exc:
        api.send_text(USER, "你好")
    assert exc.value.errcode == -2 and time.monotonic() - started < 5


# -- text helpers ---------------------------------------------------------------------------------------
def test_split_text_by_bytes_at_sentence_ends():
    from web.wechat.protocol import split_text

    text = "第一句很短。" + "没有标点的长句" * 150 + "！结尾？\n最后一行"
    pieces = split_text(text, 2048)
    assert "".join(pieces) == text and len(pieces) == 3
    assert all(0 < len(p.encode()) <= 2048 for p in pieces) and pieces[0] == "第一句很短。"
    assert split_text("短句。", 2048) == ["短句。"] and split_text("   ", 2048) == []


def test_cdata_survives_its_own_terminator():
    from web.wechat.protocol import text_reply

    content = "a]]>b]]]]>c<![CDATA[d&e<f>\x01"
    root = ET.fromstring(text_reply("u", "gh", content))
    assert root.findtext("Content") == "a]]>b]]]]>c<![CDATA[d&e<f>"


def test_a_failed_early_refresh_keeps_the_valid_token_and_a_bad_secret_is_reported(service):
    from web.wechat.api_client import ApiError
    from web.wechat.models import WeChatToken

    with FakeWeChatApi(APPID, SECRET) as fake:
        good = api_for(service, fake.base_url)
        token = good.access_token()
        with service.sessions() as db:
            db.execute(update(WeChatToken).values(expires_at=time.time() + 120))
            db.commit()
        wrong = api_for(service, fake.base_url)
        wrong.secret = "not-the-secret"
        assert wrong.access_token() == token  # refresh refused (40125), old token still valid
        with service.sessions() as db:
            db.execute(update(WeChatToken).values(expires_at=time.time() - 1))
            db.commit()
        with pytest.raises(ApiError) as exc:
            wrong.access_token()
        assert exc.value.errcode == 40125 and len(fake.tokens) == 1
