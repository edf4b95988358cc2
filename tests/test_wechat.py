"""/wechat end to end: requests signed and encrypted as WeChat does, answers, retries, pushes via a fake API."""
import base64
import json
import os
import threading
import time
from dataclasses import replace

import pytest
from sqlalchemy import func, select

from tests.fake_wechat_api import FakeWeChatApi, WeChatSender
from web.db import Message

TOKEN, APPID, SECRET = "hotline-token", "wx2c2769f8efd9abc2", "app-secret"
AES_KEY = base64.b64encode(os.urandom(32)).decode().rstrip("=")
USER = "oyORnuP8q7ou2gfYjqLzSIWZf0rs"
MENU = {"GUIDE": "办事指南：请直接发送您的问题。", "ASK_GJJ": {"ask": "住房公积金缴存比例最低是多少"},
        "LONG": "这是一段很长的办事说明。" * 200, "CDATA": "结尾是]]>也不会破坏XML]]>"}


@pytest.fixture()
def fake_api():
    with FakeWeChatApi(APPID, SECRET) as fake:
        yield fake


@pytest.fixture()
def wechat(service, fake_api):
    """make(mode, **config) -> (app, sender); every app is drained of background pushes at teardown."""
    from web import create_app

    apps = []

    def make(mode="plaintext", **overrides):
        config = replace(service.config, wechat_token=TOKEN, wechat_appid=APPID, wechat_secret=SECRET,
                         wechat_aes_key="" if mode == "plaintext" else AES_KEY, wechat_mode=mode,
                         wechat_api_base=fake_api.base_url, wechat_menu=json.dumps(MENU, ensure_ascii=False),
                         **overrides)
        app = create_app(config, chat_service=service)
        app.config["TESTING"] = True
        apps.append(app)
        return app, WeChatSender(app.test_client(), TOKEN, APPID, config.wechat_aes_key, mode)

    yield make
    for app in apps:
        app.extensions["wechat"].drain()


def count(service, model, *where):
    with service.sessions() as db:
        return db.scalar(select(func.count()).select_from(model).where(*where)) or 0


def stored_nothing(service) -> bool:
    from web.wechat.models import WeChatInbound, WeChatUser

    return count(service, Message) == 0 and count(service, WeChatInbound) == 0 and count(service, WeChatUser) == 0


# -- URL verification and signatures --------------------------------------------------------------------
def test_url_verification_echoes_only_for_a_genuine_signature(wechat):
    app, wx = wechat()
    client = app.test_client()
    ts, nonce = str(int(time.time())), "1320562132"
    good = client.get("/wechat", query_string={"signature": wx.sign(TOKEN, ts, nonce), "timestamp": ts,
                                               "nonce": nonce, "echostr": "shr5ch 8841"})
    assert good.status_code == 200 and good.get_data(as_text=True) == "shr5ch 8841"
    bad = client.get("/wechat", query_string={"signature": wx.sign("other", ts, nonce), "timestamp": ts,
                                              "nonce": nonce, "echostr": "x"})
    assert bad.status_code == 403 and "x" != bad.get_data(as_text=True)
    assert client.get("/wechat", query_string={"echostr": "x"}).status_code == 403


def test_unconfigured_channel_is_404(client):
    assert client.get("/wechat", query_string={"echostr": "x"}).status_code == 404


# -- the three modes ------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["plaintext", "compatible", "safe"])
def test_text_is_answered_by_the_bot_in_every_mode(wechat, service, mode):
    app, wx = wechat(mode)
    reply = wx.reply_of(wx.post(wx.fields(USER, "text", Content="住房公积金缴存比例最低是多少", MsgId=1001)))
    assert reply["ToUserName"] == USER and reply["FromUserName"] == wx.account and reply["MsgType"] == "text"
    web = service.chat("住房公积金缴存比例最低是多少")  # the same bot as the web
    assert reply["Content"].startswith(web["reply"])
    with service.sessions() as db:
        user_msgs = db.scalars(select(Message).where(Message.role == "user", Message.channel == "wechat")).all()
    assert [m.text for m in user_msgs] == ["住房公积金缴存比例最低是多少"]


def test_safe_mode_refuses_plaintext_and_compatible_mode_accepts_both(wechat, service):
    _, safe = wechat("safe")
    resp = safe.post(safe.fields(USER, "text", Content="你好", MsgId=1), mode="plaintext")
    assert resp.status_code == 403 and stored_nothing(service)
    _, compat = wechat("compatible")
    assert compat.text(USER, "你好", mode="plaintext")
    assert compat.text(USER, "你好", mode="compatible")


def test_wrong_appid_and_bad_msg_signature_are_refused_and_nothing_stored(wechat, service):
    _, wx = wechat("safe")
    fields = wx.fields(USER, "text", Content="个体户怎么注销", MsgId=77)
    assert wx.post(fields, appid="wx0000000000000000").status_code == 403
    assert wx.post(fields, msg_signature="0" * 40).status_code == 403
    assert wx.post(fields, signature="f" * 40).status_code == 403
    assert stored_nothing(service)


def test_official_sample_vector_decrypts():
    """The sample of WeChat's encryption documentation (WXBizMsgCrypt Sample.py)."""
    from web.wechat.protocol import MessageCrypto

    encrypt = ("hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PGHQHFVAFm"
               "OD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6tEDYsVticbSnyU8d"
               "KOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5"
               "RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPf"
               "UM669WuMyVWQLCzpu9GhglF2PE=")
    sender = WeChatSender(None, "spamtest", "wx2c2769f8efd9abc2", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG")
    assert sender.sign("spamtest", "1409735669", "1320562132", encrypt) == "5d197aaffba7e9b25a30732f161a50dee96bd5fa"
    xml, appid = sender.decrypt(encrypt)
    assert appid == "wx2c2769f8efd9abc2" and "<Content><![CDATA[abcdteT]]></Content>" in xml
    crypto = MessageCrypto("spamtest", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "wx2c2769f8efd9abc2")
    assert crypto.decrypt(encrypt, "5d197aaffba7e9b25a30732f161a50dee96bd5fa", "1409735669", "1320562132") == xml


# -- message types --------------------------------------------------------------------------------------
def test_subscribe_unsubscribe_and_menu_clicks(wechat, service):
    from web.db import ChatSession
    from web.wechat.models import WeChatUser

    _, wx = wechat()
    welcome = wx.reply_of(wx.post(wx.fields(USER, "event", Event="subscribe", EventKey="")))
    assert "个体户怎么注销" in welcome["Content"] and "转人工" in welcome["Content"]
    assert wx.reply_of(wx.post(wx.fields(USER, "event", Event="CLICK", EventKey="GUIDE")))["Content"] == MENU["GUIDE"]
    asked = wx.reply_of(wx.post(wx.fields(USER, "event", Event="CLICK", EventKey="ASK_GJJ")))["Content"]
    assert asked.startswith(service.chat("住房公积金缴存比例最低是多少")["reply"])
    unknown = wx.reply_of(wx.post(wx.fields(USER, "event", Event="CLICK", EventKey="NOPE")))["Content"]
    assert "暂未开放" in unknown
    time.sleep(1.1)  # events are de-duplicated by FromUserName + CreateTime (seconds)
    assert wx.reply_of(wx.post(wx.fields(USER, "event", Event="unsubscribe", EventKey=""))) is None
    with service.sessions() as db:
        user = db.get(WeChatUser, USER)
        assert not user.subscribed and user.subscribed_at and user.unsubscribed_at
        assert db.scalar(select(ChatSession.channel).where(ChatSession.user_ref == USER)) == "wechat"


def test_image_and_voice(wechat, service):
    _, wx = wechat()
    image = wx.reply_of(wx.post(wx.fields(USER, "image", PicUrl="http://x/y.jpg", MediaId="m1", MsgId=5)))
    assert "文字" in image["Content"]
    voice = wx.reply_of(wx.post(wx.fields(USER, "voice", MediaId="m2", Format="amr", MsgId=6)))
    assert "文字" in voice["Content"]
    heard = wx.reply_of(wx.post(wx.fields(USER, "voice", MediaId="m3", Format="amr",
                                          Recognition="住房公积金缴存比例最低是多少", MsgId=7)))
    assert heard["Content"].startswith(service.chat("住房公积金缴存比例最低是多少")["reply"])


def test_clarify_options_can_be_picked_by_number(wechat, service, monkeypatch):
    _, wx = wechat()
    real = service.chat
    monkeypatch.setattr(service, "chat", lambda text, **kw: {**real(text, **kw), "type": "clarify",
                                                             "suggestions": ["甲问题", "乙问题"]}
                        if text == "注销" else real(text, **kw))
    reply = wx.text(USER, "注销")
    assert "1. 甲问题" in reply and "2. 乙问题" in reply
    wx.text(USER, "2")
    with service.sessions() as db:
        users = db.scalars(select(Message.text).where(Message.role == "user").order_by(Message.id)).all()
    assert users == ["注销", "乙问题"]


# -- retries and the deadline ---------------------------------------------------------------------------
def test_a_retried_message_runs_the_bot_once_and_gets_the_same_reply(wechat, service):
    _, wx = wechat("safe")
    replies = [wx.text(USER, "住房公积金缴存比例最低是多少", msg_id=424242) for _ in range(3)]
    assert replies[0] and replies == [replies[0]] * 3
    assert count(service, Message, Message.role == "user") == 1 and count(service, Message, Message.role == "bot") == 1


def test_a_retry_while_the_first_is_running_waits_for_the_same_reply(wechat, service, monkeypatch):
    _, wx = wechat(wechat_passive_seconds=3.0)
    _, other_worker = wechat(wechat_passive_seconds=3.0)  # the retry reaches another app on the same database
    real, calls = service.chat, []

    def slow(*a, **kw):
        calls.append(1)
        time.sleep(0.6)
        return real(*a, **kw)

    monkeypatch.setattr(service, "chat", slow)
    results = {}
    first = threading.Thread(target=lambda: results.update(first=wx.text(USER, "个体户怎么注销", msg_id=9)))
    first.start()
    time.sleep(0.2)
    results["retry"] = other_worker.text(USER, "个体户怎么注销", msg_id=9)
    first.join()
    assert results["first"] and results["retry"] == results["first"] and len(calls) == 1


def test_a_slow_turn_answers_success_and_pushes_the_answer(wechat, service, fake_api, monkeypatch):
    from web.wechat.models import WeChatInbound, WeChatOutbox

    app, wx = wechat(wechat_passive_seconds=0.3)
    real = service.chat

    def slow(*a, **kw):
        time.sleep(1.0)
        return real(*a, **kw)

    monkeypatch.setattr(service, "chat", slow)
    started = time.monotonic()
    assert wx.text(USER, "住房公积金缴存比例最低是多少", msg_id=31) is None
    assert time.monotonic() - started < 0.9
    assert wx.text(USER, "住房公积金缴存比例最低是多少", msg_id=31) is None  # a retry: "success", no second turn
    app.extensions["wechat"].drain()
    pushed = fake_api.texts(USER)
    assert len(pushed) == 1 and pushed[0].startswith(real("住房公积金缴存比例最低是多少")["reply"])
    assert count(service, Message, Message.text == "住房公积金缴存比例最低是多少", Message.channel == "wechat") == 1
    assert count(service, WeChatOutbox, WeChatOutbox.status == "sent", WeChatOutbox.kind == "answer") == 1
    assert count(service, WeChatInbound, WeChatInbound.status == "pushed") == 1


# -- long and awkward text ------------------------------------------------------------------------------
def test_a_long_reply_is_split_by_utf8_bytes_at_sentence_ends(wechat, fake_api):
    app, wx = wechat()
    first = wx.reply_of(wx.post(wx.fields(USER, "event", Event="CLICK", EventKey="LONG")))["Content"]
    app.extensions["wechat"].drain()
    rest = fake_api.texts(USER)
    pieces = [first, *rest]
    assert len(pieces) >= 3 and "".join(pieces) == MENU["LONG"]
    assert all(len(p.encode()) <= 2048 and p.endswith("。") for p in pieces)


def test_reply_text_with_cdata_end_stays_valid_xml(wechat):
    _, wx = wechat()
    for mode in ("plaintext",):
        assert wx.reply_of(wx.post(wx.fields(USER, "event", Event="CLICK", EventKey="CDATA"), mode=mode))["Content"] \
            == MENU["CDATA"]
    _, safe = wechat("safe")
    assert safe.reply_of(safe.post(safe.fields(USER, "event", Event="CLICK", EventKey="CDATA")))["Content"] \
        == MENU["CDATA"]


# -- hostile input --------------------------------------------------------------------------------------
XXE = (b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml>'
       b'<ToUserName>gh</ToUserName><FromUserName>evil</FromUserName><CreateTime>1</CreateTime>'
       b'<MsgType>text</MsgType><Content>&xxe;</Content><MsgId>1</MsgId></xml>')
LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
          b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]><xml><ToUserName>gh</ToUserName><FromUserName>evil</FromUserName>'
          b'<CreateTime>1</CreateTime><MsgType>text</MsgType><Content>&c;</Content><MsgId>2</MsgId></xml>')


@pytest.mark.parametrize("body", [b"<xml><ToUserName>", b"not xml at all", b"", XXE, LAUGHS,
                                  b"<xml><MsgType>text</MsgType></xml>", "<xml>".encode() + b"\xff\xfe</xml>"])
def test_malformed_or_hostile_bodies_are_refused_and_nothing_stored(wechat, service, body):
    _, wx = wechat()
    resp = wx.post(body=body)
    assert 400 <= resp.status_code < 500 and b"passwd" not in resp.data and b"root:" not in resp.data
    assert stored_nothing(service)


def test_encrypted_hostile_payload_is_refused(wechat, service):
    _, wx = wechat("safe")
    ts, nonce = str(int(time.time())), "42"
    encrypted = wx.encrypt(XXE.decode())
    query = {"timestamp": ts, "nonce": nonce, "signature": wx.sign(TOKEN, ts, nonce), "encrypt_type": "aes",
             "msg_signature": wx.sign(TOKEN, ts, nonce, encrypted)}
    resp = wx.client.post("/wechat", query_string=query, data=f"<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>")
    garbage = wx.client.post("/wechat", query_string={**query, "msg_signature": wx.sign(TOKEN, ts, nonce, "AAAA")},
                             data="<xml><Encrypt>AAAA</Encrypt></xml>")
    assert resp.status_code == 400 and garbage.status_code == 400 and stored_nothing(service)


def test_oversized_replayed_and_forged_requests_are_refused(wechat, service):
    _, wx = wechat()
    big = wx.fields(USER, "text", Content="注" * 20000, MsgId=3)
    assert wx.post(big).status_code == 413
    old = str(int(time.time()) - 3600)
    assert wx.post(wx.fields(USER, "text", Content="你好", MsgId=4), timestamp=old).status_code == 403
    assert wx.post(wx.fields(USER, "text", Content="你好", MsgId=4), signature="0" * 40).status_code == 403
    assert stored_nothing(service)


def test_compatible_mode_trusts_only_the_encrypted_copy(wechat, service):
    _, wx = wechat("compatible")
    ts, nonce = str(int(time.time())), "77"
    real = wx.fields(USER, "text", Content="住房公积金缴存比例最低是多少", MsgId=555)
    encrypted = wx.encrypt(wx.message_xml(real))
    tampered = wx.message_xml({**real, "Content": "篡改过的明文", "Encrypt": encrypted})
    query = {"timestamp": ts, "nonce": nonce, "signature": wx.sign(TOKEN, ts, nonce), "encrypt_type": "aes",
             "msg_signature": wx.sign(TOKEN, ts, nonce, encrypted)}
    reply = wx.reply_of(wx.client.post("/wechat", query_string=query, data=tampered))
    assert "5%" in reply["Content"]
    with service.sessions() as db:
        assert db.scalars(select(Message.text).where(Message.role == "user")).all() == ["住房公积金缴存比例最低是多少"]


def test_parser_refuses_any_dtd_before_expanding_anything():
    from web.wechat.protocol import ProtocolError, parse_xml

    for body in (XXE, LAUGHS):
        with pytest.raises(ProtocolError, match="DTD"):
            parse_xml(body)
    assert parse_xml("<xml><A><![CDATA[x]]]]><![CDATA[>y]]></A><B>1</B></xml>") == {"A": "x]]>y", "B": "1"}


def test_a_user_sending_too_fast_is_slowed_down_without_running_the_bot(wechat, service):
    _, wx = wechat(rate_limit_session_per_minute=2)
    replies = [wx.text(USER, f"问题{i}") for i in range(3)]
    assert "频繁" not in replies[1] and "频繁" in replies[2]
    assert count(service, Message, Message.role == "user") == 2
