"""The dashboard in headless Chromium on generated sample data: login redirect, charts drawn, numbers match SQL, screenshot.

HOTLINE_DOCS_SCREENSHOTS=1 also writes the screenshot to docs/dashboard.png (the one the README shows).
"""
from __future__ import annotations

import importlib.util
import os
import shutil
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from browser_support import screenshot_path

from web.analytics import Filters, compute, to_utc

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parent.parent
START, END = date(2026, 3, 1), date(2026, 3, 14)  # sample data lives here, away from other tests' "today"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_dashboard", ROOT / "bench" / "bench_dashboard.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def sample(live_server):
    """Two weeks of generated conversations (seeded) and a supervisor account."""
    engine = live_server.chat_service.sessions.kw["bind"]
    end = datetime(2026, 3, 15, tzinfo=timezone(timedelta(hours=8))).astimezone(timezone.utc)
    counts = _bench().generate(engine, 6000, 14, seed=7, end=end, prefix="dash")
    live_server.agent_service.add_agent("dash_boss", "password-dash", [], role="supervisor", display_name="陈主管")
    return counts


def test_dashboard_draws_every_figure_and_matches_sql(browser, live_server, sample):
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    from playwright.sync_api import expect

    query = f"start={START}&end={END}"

    page.goto(f"{live_server.url}/dashboard?{query}")
    assert "/agent/login?next=" in page.url  # not logged in: sent to the login page

    res = context.request.post(f"{live_server.url}/api/agent/login",
                               data={"username": "dash_boss", "password": "password-dash"})
    assert res.ok
    page.goto(f"{live_server.url}/dashboard?{query}")
    page.wait_for_selector("body[data-ready='1']", timeout=30_000)
    assert errors == []
    assert page.locator("#error").is_hidden()
    assert page.locator("#fig-volume svg polyline").count() == 3  # all questions, web, WeChat
    assert page.locator("#fig-outcomes svg polyline").count() == 4
    assert page.locator("#fig-by_line svg rect").count() > 5

    sessions = live_server.chat_service.sessions
    f = Filters(to_utc(START), to_utc(END, end=True), None, "day")
    summary = compute(sessions, "summary", f).rows[0]
    assert page.locator("#fig-summary .kpi-value").first.text_content() == f"{summary[0]:,}"
    unanswered = compute(sessions, "unanswered", f).rows
    first_row = page.locator("#fig-unanswered tbody tr").first.locator("td")
    assert first_row.nth(0).text_content() == unanswered[0][0] and first_row.nth(1).text_content() == str(unanswered[0][1])
    assert page.locator("#fig-volume tbody tr").count() == 14

    shot = screenshot_path("dashboard")
    page.screenshot(path=str(shot), full_page=True)
    if os.environ.get("HOTLINE_DOCS_SCREENSHOTS") == "1":
        (ROOT / "docs").mkdir(exist_ok=True)
        shutil.copyfile(shot, ROOT / "docs" / "dashboard.png")

    page.select_option("select[name=channel]", "wechat")  # the filter reloads every figure for one channel
    page.click("button[type=submit]")
    expect(page.locator("#fig-by_channel tbody tr")).to_have_count(1)  # (the page's CSP forbids eval'd waits)
    assert page.locator("#fig-by_channel tbody td").first.text_content() == "微信公众号"
    assert "channel=wechat" in page.locator("#fig-by_line a.csv").get_attribute("href")
    assert errors == []
    context.close()
