"""The browser pages' routes: demo page, /widget.js, console and login, CORS on the public chat routes only."""
from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from web.pages import safe_next

WEB = Path(__file__).resolve().parent.parent / "web"


@pytest.fixture()
def agent(app):
    return app.extensions["agent_service"].add_agent("zhang", "secret-pass-1", ["商事登记"], display_name="张敏")


def login(client, username="zhang", password="secret-pass-1") -> str:
    res = client.post("/api/agent/login", json={"username": username, "password": password})
    assert res.status_code == 200, res.get_json()
    return res.get_json()["csrf_token"]


def test_demo_page_embeds_the_widget_with_one_script_tag(client):
    res = client.get("/")
    assert res.status_code == 200
    html = res.get_data(as_text=True)
    tags = re.findall(r"<script[^>]*>", html)
    assert tags == ['<script src="/widget.js" data-title="广州12345企业服务" data-color="#c8102e">']
    assert "Content-Security-Policy" in res.headers and "script-src 'self'" in res.headers["Content-Security-Policy"]


def test_widget_script_is_public_javascript(client):
    res = client.get("/widget.js")
    assert res.status_code == 200
    assert res.mimetype == "application/javascript"
    assert res.headers["Access-Control-Allow-Origin"] == "*"
    assert res.headers["X-Content-Type-Options"] == "nosniff"
    body = res.get_data(as_text=True)
    assert "attachShadow" in body
    res.close()


def test_no_page_or_script_builds_html_from_strings():
    """Every message reaches the DOM as text: no innerHTML/outerHTML/insertAdjacentHTML/document.write in the
    widget or the console."""
    scripts = [*(WEB / "static" / "widget").glob("*.js"), *(WEB / "static" / "agent").glob("*.js")]
    assert len(scripts) >= 3
    for path in scripts:
        source = path.read_text(encoding="utf-8")
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
            assert sink not in source, f"{path.name} uses {sink}"


def test_templates_have_no_inline_scripts_or_styles():
    """The pages' CSP allows only same-origin scripts and styles, so nothing inline may be needed."""
    for path in (WEB / "templates").glob("*.html"):
        if path.name.startswith(("dashboard", "kb")):
            continue
        html = path.read_text(encoding="utf-8")
        assert not re.search(r"<script(?![^>]*\ssrc=)[^>]*>", html), path.name
        assert "<style" not in html and " style=" not in html and " onclick=" not in html, path.name


def test_console_redirects_to_login_until_logged_in(client, agent):
    res = client.get("/agent")
    assert res.status_code == 302
    assert res.headers["Location"].startswith("/agent/login?next=/agent")
    login(client)
    res = client.get("/agent")
    assert res.status_code == 200
    html = res.get_data(as_text=True)
    assert "坐席工作台" in html and 'data-districts="越秀,' in html
    assert res.headers["Cache-Control"] == "no-store"
    assert res.headers["X-Frame-Options"] == "DENY"


def test_login_page_keeps_a_local_next_and_drops_others(client):
    html = client.get("/agent/login?next=/dashboard").get_data(as_text=True)
    assert 'data-next="/dashboard"' in html
    for evil in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"):
        html = client.get("/agent/login", query_string={"next": evil}).get_data(as_text=True)
        assert 'data-next="/agent"' in html, evil


@pytest.mark.parametrize("target, expected", [
    ("/dashboard", "/dashboard"), ("/agent?x=1", "/agent?x=1"), (None, "/agent"), ("", "/agent"),
    ("dashboard", "/agent"), ("//evil.example", "/agent"), ("/\\evil.example", "/agent"),
    ("http://evil.example/", "/agent"),
])
def test_safe_next(target, expected):
    assert safe_next(target) == expected


def test_cors_on_the_public_chat_routes(client):
    origin = {"Origin": "https://www.gz.gov.cn"}
    res = client.post("/api/chat", json={"message": "个体户怎么注销", "session_id": None}, headers=origin)
    assert res.status_code == 200
    assert res.headers["Access-Control-Allow-Origin"] == "*"
    sid = res.get_json()["session_id"]
    seq = client.get(f"/api/chat/{sid}/messages").get_json()["messages"][-1]["seq"]
    for method, url, body in [("GET", f"/api/chat/{sid}/messages?after=0", None),
                              ("POST", "/api/feedback", {"session_id": sid, "message_seq": seq, "value": 1}),
                              ("POST", f"/api/chat/{sid}/rating", {"rating": 5})]:
        res = client.open(url, method=method, json=body, headers=origin)
        assert res.headers.get("Access-Control-Allow-Origin") == "*", (url, res.status_code)
    # errors carry the headers too, so the widget can read the Chinese message (404 nothing_to_rate above)
    assert res.status_code == 404 and res.get_json()["error"] == "nothing_to_rate"


def test_cors_preflight_for_json_posts(client):
    res = client.options("/api/chat", headers={"Origin": "https://partner.example",
                                               "Access-Control-Request-Method": "POST",
                                               "Access-Control-Request-Headers": "content-type"})
    assert res.status_code == 200
    assert res.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in res.headers["Access-Control-Allow-Methods"]
    assert "Content-Type" in res.headers["Access-Control-Allow-Headers"]


def test_no_cors_on_agent_routes(client, agent):
    origin = {"Origin": "https://evil.example"}
    res = client.post("/api/agent/login", json={"username": "zhang", "password": "secret-pass-1"}, headers=origin)
    assert res.status_code == 200
    assert "Access-Control-Allow-Origin" not in res.headers
    assert "Access-Control-Allow-Origin" not in client.get("/api/agent/tickets", headers=origin).headers
    assert "Access-Control-Allow-Origin" not in client.get("/healthz", headers=origin).headers


def test_cors_limited_to_configured_origins(service):
    from web import create_app

    config = replace(service.config, cors_origins="https://www.gz.gov.cn, https://partner.example/")
    client = create_app(config, chat_service=service).test_client()
    body = {"message": "你好", "session_id": None}
    res = client.post("/api/chat", json=body, headers={"Origin": "https://partner.example"})
    assert res.headers["Access-Control-Allow-Origin"] == "https://partner.example"
    assert "Origin" in res.headers["Vary"]
    res = client.post("/api/chat", json=body, headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in res.headers


def test_console_assets_are_served(client):
    for path, kind in [("/static/agent/console.js", "javascript"), ("/static/agent/login.js", "javascript"),
                       ("/static/agent/console.css", "css"), ("/static/demo.css", "css")]:
        res = client.get(path)
        assert res.status_code == 200 and kind in res.mimetype, path
        res.close()
