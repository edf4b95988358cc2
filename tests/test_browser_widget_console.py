"""The widget and the agent console in a real headless Chromium, end to end against the live app."""
from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from browser_support import LiveServer, screenshot_path

pytestmark = pytest.mark.browser
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
expect = sync_api.expect
expect.set_options(timeout=10_000)

WIDGET = "gz12345-chat"
DOCS_SHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
PASSWORD = "console-pass-1"


def credit_code(body17: str) -> str:
    """A 统一社会信用代码 with the right GB 32100-2015 check character."""
    from bot.entities import CREDIT_CODE_CHARS

    total = sum(CREDIT_CODE_CHARS.index(ch) * pow(3, i, 31) for i, ch in enumerate(body17))
    return body17 + CREDIT_CODE_CHARS[(31 - total % 31) % 31]


@pytest.fixture()
def user(browser):
    """A citizen's browser tab; fails the test if any page script raises or opens an alert."""
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.problems = []
    page.on("pageerror", lambda exc: page.problems.append(f"pageerror: {exc}"))
    page.on("dialog", lambda dialog: (page.problems.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    yield page
    problems = page.problems
    context.close()
    assert problems == []


def shoot(page, name: str) -> None:
    """A screenshot artifact; HOTLINE_DOCS_SCREENSHOTS=1 also refreshes the copy the README shows."""
    path = screenshot_path(name)
    page.screenshot(path=path)
    if os.environ.get("HOTLINE_DOCS_SCREENSHOTS") == "1":
        DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS_SHOTS / path.name)


def open_widget(page, server) -> None:
    page.goto(server.url + "/")
    page.locator(f"{WIDGET} .launcher").click()
    expect(page.locator(f"{WIDGET} .panel")).to_be_visible()


def ask(page, text: str) -> None:
    box = page.locator(f"{WIDGET} textarea")
    box.fill(text)
    box.press("Enter")


def bot_messages(page):
    return page.locator(f"{WIDGET} .msg.bot")


def test_widget_answers_with_source_chips_feedback_and_survives_reload(user, live_server):
    page = user
    page.goto(live_server.url + "/")
    host_button = page.locator("#host-button")
    look = "b => getComputedStyle(b).backgroundColor + getComputedStyle(b).fontFamily"
    host_style = host_button.evaluate(look)
    assert host_style.startswith("rgb(46, 125, 50)Georgia")  # demo.css: green buttons, serif everything
    page.locator(f"{WIDGET} .launcher").click()
    panel = page.locator(f"{WIDGET} .panel")
    expect(panel).to_be_visible()
    expect(panel.locator("h2")).to_have_text("广州12345企业服务")
    # the widget is styled by its data-color, not by the host page's global `button`/`textarea` rules ...
    send_bg = page.locator(f"{WIDGET} .send").evaluate("b => getComputedStyle(b).backgroundColor + b.style.font")
    assert send_bg == "rgb(200, 16, 46)"
    font = page.locator(f"{WIDGET} .send").evaluate("b => getComputedStyle(b).fontFamily")
    assert "Georgia" not in font and "WenQuanYi Micro Hei" in font
    textarea_bg = page.locator(f"{WIDGET} textarea").evaluate("t => getComputedStyle(t).backgroundColor")
    assert textarea_bg == "rgb(255, 255, 255)"
    # ... and the host page keeps its own look
    assert host_button.evaluate(look) == host_style

    # welcome text and hot questions; a hot question is sent as it is
    expect(panel.locator(".welcome")).to_contain_text("企业服务智能助手")
    page.locator(f"{WIDGET} .welcome .chip", has_text="有限公司注销要准备什么资料").click()
    answer = bot_messages(page).last
    expect(answer).to_contain_text("清算报告")
    source = answer.locator("details.source")
    expect(source.locator("summary")).to_have_text("来源：有限责任公司注销登记需要哪些材料？")
    basis = source.locator("p").first
    expect(basis).to_be_hidden()  # collapsed until asked for
    source.locator("summary").click()
    expect(basis).to_have_text("政策依据：《中华人民共和国市场主体登记管理条例》第三十一条")

    # thumbs up is stored against that bot message's seq
    answer.get_by_role("button", name="有帮助").click()
    expect(answer.locator(".fb .thanks")).to_have_text("感谢您的反馈")
    sid = page.evaluate(f"JSON.parse(localStorage.getItem('gz12345-widget:{live_server.url}')).sid")
    seq = int(answer.get_attribute("data-seq"))
    from web.db import Feedback

    with live_server.chat_service.sessions() as db:
        rows = [(f.session_id, f.message_seq, f.value) for f in db.query(Feedback).filter_by(session_id=sid)]
    assert rows == [(sid, seq, 1)]

    # a vague question: clarify options as chips; the chosen option goes back verbatim
    ask(page, "怎么注销")
    clarify = bot_messages(page).last
    expect(clarify).to_contain_text("您想咨询的是下面哪一个问题")
    option = clarify.locator(".chip", has_text="个体工商户注销需要哪些材料？")
    option.click()
    expect(page.locator(f"{WIDGET} .msg.user").last).to_have_text("个体工商户注销需要哪些材料？")
    expect(bot_messages(page).last).to_contain_text("营业执照正副本")

    # script-like text is shown as text and never runs (the fixture fails on any dialog or page error)
    xss = "<img src=x onerror=alert(1)>"
    ask(page, xss)
    expect(page.locator(f"{WIDGET} .msg.user").last).to_have_text(xss)
    expect(bot_messages(page)).to_have_count(4)
    assert page.evaluate(f"document.querySelector('{WIDGET}').shadowRoot.querySelectorAll('img').length") == 0

    # a reload shows the same conversation, sources and given feedback included
    texts = page.locator(f"{WIDGET} .msg[data-seq]").all_text_contents()
    page.reload()
    expect(page.locator(f"{WIDGET} .panel")).to_be_visible()  # it was open, so it reopens
    expect(page.locator(f"{WIDGET} .msg[data-seq]")).to_have_count(len(texts))
    assert page.locator(f"{WIDGET} .msg[data-seq]").all_text_contents() == texts
    first = bot_messages(page).first
    expect(first.locator("details.source summary")).to_have_text("来源：有限责任公司注销登记需要哪些材料？")
    expect(first.get_by_role("button", name="有帮助")).to_be_disabled()
    shoot(page, "widget")


def test_widget_on_another_site_with_a_strict_csp(user, live_server):
    """A partner site on another origin embeds the script: API calls go cross-origin (CORS, preflight) and the
    widget is styled although the page forbids inline styles."""
    page = user
    html = ('<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>合作单位</title></head><body>'
            f'<h1>合作单位网站</h1><script src="{live_server.url}/widget.js" data-title="合作单位在线咨询" '
            'data-color="#0a7d32" data-hot="公积金交多少比例|简易注销要公示多久"></script></body></html>').encode()
    csp = f"default-src 'self'; script-src {live_server.url}; connect-src {live_server.url}; style-src 'self'"

    def partner_site(environ, start_response):  # another origin (another port; Chromium blocks public→loopback)
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"), ("Content-Security-Policy", csp)])
        return [html]

    partner = LiveServer.start(partner_site)
    violations: list[str] = []
    page.on("console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None)
    page.goto(partner.url + "/")
    launcher = page.locator(f"{WIDGET} .launcher")
    assert launcher.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(10, 125, 50)"
    assert launcher.evaluate("b => getComputedStyle(b).position") == "fixed"
    launcher.click()
    expect(page.locator(f"{WIDGET} .panel h2")).to_have_text("合作单位在线咨询")
    expect(page.locator(f"{WIDGET} .welcome .chip")).to_have_text(["公积金交多少比例", "简易注销要公示多久"])
    ask(page, "公积金交多少比例")
    expect(bot_messages(page).last).to_contain_text("5%")
    expect(bot_messages(page).last.locator("summary")).to_have_text("来源：住房公积金的缴存比例是多少？")
    assert violations == []
    partner.stop()


def test_widget_keeps_typed_text_when_offline_or_rate_limited(user, live_server):
    page = user
    open_widget(page, live_server)
    alert = page.locator(f"{WIDGET} .alert")
    box = page.locator(f"{WIDGET} textarea")

    page.route("**/api/chat", lambda route: route.abort("internetdisconnected"))
    ask(page, "公积金交多少比例")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text("网络连接失败")
    expect(box).to_have_value("公积金交多少比例")
    expect(page.locator(f"{WIDGET} .msg.user")).to_have_count(0)
    page.unroute("**/api/chat")
    alert.get_by_role("button", name="重试").click()
    expect(bot_messages(page).last).to_contain_text("5%")
    expect(alert).to_be_hidden()
    expect(box).to_have_value("")

    body = json.dumps({"error": "rate_limited", "message": "发送过于频繁，请稍等一分钟后再发送"})
    page.route("**/api/chat", lambda route: route.fulfill(status=429, body=body, content_type="application/json"))
    ask(page, "简易注销要公示多久")
    expect(alert).to_contain_text("发送过于频繁")
    expect(box).to_have_value("简易注销要公示多久")
    page.unroute("**/api/chat")
    held = []  # hold the retried request to see the typing indicator, then let it through
    page.route("**/api/chat", lambda route: held.append(route))
    alert.get_by_role("button", name="重试").click()
    expect(page.locator(f"{WIDGET} .typing")).to_be_visible()
    expect(page.locator(f"{WIDGET} .msg.user.pending")).to_have_text("简易注销要公示多久")
    held[0].continue_()
    expect(bot_messages(page).last).to_contain_text("20日")
    expect(page.locator(f"{WIDGET} .typing")).to_have_count(0)


def test_widget_at_360px_by_keyboard(browser, live_server):
    context = browser.new_context(locale="zh-CN", viewport={"width": 360, "height": 640}, is_mobile=True,
                                  has_touch=True)
    key = f"gz12345-widget:{live_server.url}"  # a session the server no longer knows: the widget starts afresh
    context.add_init_script(f"localStorage.setItem({key!r}, JSON.stringify({{sid: 'gone-session', meta: {{}}}}))")
    page = context.new_page()
    page.goto(live_server.url + "/")
    launcher = page.locator(f"{WIDGET} .launcher")
    launcher.focus()
    page.keyboard.press("Enter")
    panel = page.locator(f"{WIDGET} .panel")
    expect(panel).to_be_visible()
    box = panel.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 360
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    # focus lands in the input: type and send with Enter, tab to a chip and press it
    page.keyboard.type("公积金交多少比例")
    page.keyboard.press("Enter")
    expect(bot_messages(page).last).to_contain_text("5%")
    assert page.evaluate(f"JSON.parse(localStorage.getItem({key!r})).sid") not in ("gone-session", None)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    shoot(page, "widget-360px")
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    assert page.evaluate(f"document.querySelector('{WIDGET}').shadowRoot.activeElement.className") == "launcher"
    context.close()


def test_handoff_agent_console_reply_close_and_rating(browser, user, live_server):
    agents = live_server.agent_service
    agents.add_agent("wang_li", PASSWORD, ["商事登记"], display_name="王丽")
    page = user
    open_widget(page, live_server)
    code = credit_code("91440101MA5CQ1234")
    ask(page, f"我们是广州市穗联科技有限公司，统一社会信用代码{code}，地址在越秀区中山五路100号，电话13800138000")
    expect(bot_messages(page)).to_have_count(1)
    ask(page, "有限公司注销要准备什么资料")
    expect(bot_messages(page).last).to_contain_text("清算报告")
    page.locator(f"{WIDGET} .handoff").click()
    status = page.locator(f"{WIDGET} .head .status")
    expect(status).to_have_text("正在为您转接人工客服，请稍候…")
    expect(page.locator(f"{WIDGET} .handoff")).to_be_disabled()

    # the agent logs in with a second, separate browser context
    console_ctx = browser.new_context(locale="zh-CN", viewport={"width": 1440, "height": 900})
    console = console_ctx.new_page()
    console_problems: list[str] = []
    console.on("pageerror", lambda exc: console_problems.append(str(exc)))
    console.goto(live_server.url + "/agent")
    expect(console).to_have_url(re.compile(r"/agent/login\?next=/agent$"))
    console.fill("#username", "wang_li")
    console.fill("#password", "wrong-password")
    console.click("#login-submit")
    expect(console.locator("#login-error")).to_have_text("用户名或密码错误")
    console.fill("#password", PASSWORD)
    console.click("#login-submit")
    expect(console).to_have_url(live_server.url + "/agent")
    expect(console.locator("#me")).to_have_text("王丽 · 坐席")

    item = console.locator(".ticket").first
    expect(item).to_contain_text("商事登记")
    expect(item).to_contain_text("用户要求转人工")
    expect(item).to_contain_text("有限公司注销要准备什么资料")
    expect(item.locator(".wait")).to_contain_text("已等待")
    item.locator(".open").click()
    # the work order is pre-filled from what the user said
    expect(console.locator("#f-company")).to_have_value("广州市穗联科技有限公司")
    expect(console.locator("#f-credit_code")).to_have_value(code)
    expect(console.locator("#credit-valid")).to_have_text("✓ 校验通过")
    expect(console.locator("#f-district")).to_have_value("越秀")
    expect(console.locator("#f-address")).to_have_value("越秀区中山五路100号")
    expect(console.locator("#f-phone")).to_have_value("13800138000")
    expect(console.locator("#f-scenario")).to_have_value("商事登记/注销登记")
    expect(console.locator("#f-department")).to_have_value("越秀区市场监督管理局")
    expect(console.locator("#f-summary")).not_to_have_value("")
    # the side panel already suggests the matching knowledge
    first_suggestion = console.locator("#suggestions .sugg").first
    expect(first_suggestion.locator(".s-title")).to_contain_text("有限责任公司注销登记需要哪些材料？")
    expect(first_suggestion).to_contain_text("依据：《中华人民共和国市场主体登记管理条例》第三十一条")
    expect(first_suggestion).to_contain_text("部门：区市场监督管理局")

    console.click("#claim-btn")
    expect(console.locator("#ticket-sub")).to_contain_text("处理中")
    expect(status).to_have_text("人工客服 王丽 正在为您服务")  # the widget's header, live
    page.locator(f"{WIDGET} .close").click()  # the user looks away: the reply raises an unread badge
    first_suggestion.get_by_role("button", name=re.compile("插入回复")).click()
    reply = console.locator("#reply-text")
    expect(reply).to_have_value(re.compile("清算报告"))
    reply.press("End")
    reply.type("贵公司在越秀区，可到越秀区市场监督管理局办理。")
    console.click("#reply-btn")
    expect(reply).to_have_value("")
    expect(page.locator(f"{WIDGET} .launcher .badge")).to_have_text("1")
    page.locator(f"{WIDGET} .launcher").click()
    expect(page.locator(f"{WIDGET} .launcher .badge")).to_be_hidden()
    agent_msg = page.locator(f"{WIDGET} .msg.agent").last
    expect(agent_msg).to_contain_text("可到越秀区市场监督管理局办理")
    expect(agent_msg).to_contain_text("清算报告")
    expect(agent_msg.locator(".who")).to_have_text("人工客服 王丽")

    # a new user message shows up in the console and refreshes the side panel
    ask(page, "简易注销要公示多久 <b>谢谢</b>")
    expect(console.locator("#messages .m.user .text").last).to_have_text("简易注销要公示多久 <b>谢谢</b>")
    expect(console.locator("#suggestions .sugg").first.locator(".s-title")).to_contain_text("简易注销的公示期")
    shoot(console, "console")
    console.fill("#kb-q", "公积金比例")
    console.click("#kb-search button")
    expect(console.locator("#suggestions .sugg").first.locator(".s-title")).to_contain_text("住房公积金的缴存比例")

    # work-order edits are validated by the server and the reason shown
    console.fill("#f-credit_code", "91440101MA5CQ12340")
    expect(console.locator("#credit-valid")).to_have_text("✗ 校验位不正确")
    console.click("#form-save")
    expect(console.locator("#form-msg")).to_contain_text("校验位不正确")
    console.fill("#f-credit_code", code)
    console.fill("#f-summary", "咨询有限公司注销材料及简易注销公示期")
    console.click("#form-save")
    expect(console.locator("#form-msg")).to_contain_text("已保存")

    console.fill("#resolution", "已解答注销材料和简易注销公示期")
    console.click("#close-btn")
    expect(console.locator("#closed-info")).to_contain_text("已解答注销材料")
    expect(status).to_have_text("智能助手 · 在线")
    rating = page.locator(f"{WIDGET} .rating")
    expect(rating).to_contain_text("请为本次服务打分")
    rating.get_by_role("button", name="5 分").click()
    expect(rating).to_contain_text("感谢您的评价：5 分")
    ticket_id = console.locator("#ticket-title").inner_text().removeprefix("工单 ")
    from web.db import Ticket

    with live_server.chat_service.sessions() as db:
        ticket = db.get(Ticket, ticket_id)
        assert (ticket.status, ticket.rating, ticket.summary) == ("closed", 5, "咨询有限公司注销材料及简易注销公示期")
        assert ticket.form["credit_code"] == code
    # after a reload the widget still shows the agent's reply and the rating as given
    page.reload()
    expect(page.locator(f"{WIDGET} .msg.agent")).to_contain_text("可到越秀区市场监督管理局办理")
    expect(page.locator(f"{WIDGET} .msg.agent .who")).to_have_text("人工客服 王丽")
    expect(page.locator(f"{WIDGET} .rating")).to_contain_text("感谢您的评价：5 分")
    shoot(page, "widget-after-agent")
    console_ctx.close()
    assert console_problems == []


def login_console(browser, server, username: str):
    context = browser.new_context(locale="zh-CN", viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.goto(server.url + "/agent/login?next=/agent")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    expect(page).to_have_url(server.url + "/agent")
    return context, page


def test_two_agents_one_claim_wins(browser, live_server):
    agents = live_server.agent_service
    first = agents.add_agent("chen_gjj", PASSWORD, ["公积金"], display_name="陈一")
    agents.add_agent("li_gjj", PASSWORD, ["公积金"], display_name="李二")
    service = live_server.chat_service
    sid = service.chat("新公司多久要开公积金账户")["session_id"]
    ticket_id = service.chat("转人工", sid)["handoff"]["ticket_id"]

    context, page = login_console(browser, live_server, "li_gjj")
    page.locator(f".ticket[data-id='{ticket_id}'] .open").click()
    expect(page.locator("#claim-btn")).to_be_visible()
    frozen, held = True, []  # freeze this console's view (no refresh) while the other agent claims

    def hold(route):
        if frozen and route.request.method == "GET":
            held.append(route)
        else:
            route.continue_()

    page.route("**/api/agent/tickets**", hold)
    agents.claim(first, ticket_id)  # 陈一 is faster
    page.click("#claim-btn")
    expect(page.locator("#global-error")).to_have_text("该工单已被其他坐席认领或已结束")
    frozen = False
    for route in held:
        route.continue_()
    page.unroute("**/api/agent/tickets**")
    page.locator(f".ticket[data-id='{ticket_id}'] .open").click()
    expect(page.locator("#closed-info")).to_have_text("该工单由 陈一 处理中。")
    expect(page.locator("#reply-form")).to_be_hidden()
    expect(page.locator("#claim-btn")).to_be_hidden()
    context.close()


def test_login_follows_next_and_wechat_ticket_shows_its_window(browser, live_server):
    live_server.agent_service.add_agent("lead_zhao", PASSWORD, [], role="supervisor", display_name="赵班长")
    service = live_server.chat_service
    service.chat("公积金交多少比例", None, channel="wechat", user_ref="openid-test-1")
    handoff = service.chat("转人工", None, channel="wechat", user_ref="openid-test-1")["handoff"]
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    page.goto(live_server.url + "/agent/login?next=/agent%3Fwelcome%3D1")
    page.fill("#username", "lead_zhao")
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    expect(page).to_have_url(live_server.url + "/agent?welcome=1")
    expect(page.locator("#me")).to_have_text("赵班长 · 班长（全部队列）")
    expect(page.locator("#queue-tabs button")).to_have_count(5)  # 全部 + every queue

    # without the WeChat channel route (or before it exists) the console says so and keeps working
    page.route("**/channel", lambda route: route.fulfill(status=404, content_type="application/json",
                                                         body='{"error":"not_found","message":"没有这个接口"}'))
    page.locator(f".ticket[data-id='{handoff['ticket_id']}'] .open").click()
    expect(page.locator("#channel-info")).to_have_text("微信渠道：暂无客服消息窗口信息")
    page.unroute("**/channel")
    window = {"channel": "wechat", "window_open": True, "window_expires_at": "2099-01-01T00:00:00+00:00",
              "quota_remaining": 3, "subscribed": True, "pending": 0,
              "failed": [{"id": 1, "seq": 7, "text": "您好", "error": "timeout"}]}
    page.route("**/channel", lambda route: route.fulfill(status=200, content_type="application/json",
                                                         body=json.dumps(window)))
    page.route("**/channel/retry", lambda route: route.fulfill(status=200, content_type="application/json",
                                                               body='{"retried": 1, "sent": 1}'))
    page.locator(f".ticket[data-id='{handoff['ticket_id']}'] .open").click()
    info = page.locator("#channel-info")
    expect(info).to_contain_text("48小时客服窗口：开放")
    expect(info).to_contain_text("剩余可发消息：3 条")
    expect(info).to_contain_text("发送失败 1 条")
    with page.expect_request("**/channel/retry") as retry:
        info.get_by_role("button", name="重发失败消息").click()
    assert retry.value.method == "POST" and retry.value.headers.get("x-csrf-token")

    # a dashboard built elsewhere sends people to this login with ?next=/dashboard
    page.click("#logout")
    expect(page).to_have_url(re.compile(r"/agent/login"))
    page.goto(live_server.url + "/agent/login?next=/dashboard")
    page.fill("#username", "lead_zhao")
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    expect(page).to_have_url(live_server.url + "/dashboard")
    context.close()


def test_agent_transfers_a_ticket_to_another_queue(browser, live_server):
    agents = live_server.agent_service
    agents.add_agent("zhou_sb", PASSWORD, ["社保"], display_name="周三")
    service = live_server.chat_service
    sid = service.chat("新公司多久要开公积金账户")["session_id"]
    ticket_id = service.chat("转人工", sid)["handoff"]["ticket_id"]
    boss = agents.add_agent("boss_transfer", PASSWORD, [], role="supervisor", display_name="值班长")
    agents.claim(boss, ticket_id)

    context, page = login_console(browser, live_server, "boss_transfer")
    page.select_option("#status-filter", "open")
    page.locator(f".ticket[data-id='{ticket_id}'] .open").click()
    page.select_option("#transfer-queue", "社保")
    page.click("#transfer-btn")
    expect(page.locator("#empty-state")).to_contain_text("社保")
    context.close()
    context, page = login_console(browser, live_server, "zhou_sb")  # the 社保 agent now sees it waiting
    expect(page.locator(f".ticket[data-id='{ticket_id}']")).to_be_visible()
    context.close()
    assert service.messages(sid)["messages"][-1]["text"].startswith("您的问题已转交“社保”坐席")
