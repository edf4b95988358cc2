"""The editor pages in headless Chromium: a gap becomes a draft in one click, is completed, reviewed and published;
an upload shows its report and is confirmed. No script errors (the pages run under a strict CSP)."""
from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest
from browser_support import screenshot_path

pytestmark = pytest.mark.browser
GAP = "直播带货需要办什么特殊的许可证吗"
DATA = Path(__file__).parent / "data" / "import"


@pytest.fixture(scope="module")
def editor_page(browser, live_server):
    live_server.agent_service.add_agent("kb_editor", "password-kb-1", [], role="editor", display_name="林编辑")
    request = urllib.request.Request(f"{live_server.url}/api/chat", data=json.dumps({"message": GAP}).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        assert json.loads(response.read())["type"] == "fallback"
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{live_server.url}/kb/gaps")
    assert "/agent/login?next=/kb/gaps" in page.url
    assert context.request.post(f"{live_server.url}/api/agent/login",
                                data={"username": "kb_editor", "password": "password-kb-1"}).ok
    yield page, errors
    context.close()


def test_gap_to_published_point_in_the_browser(editor_page, live_server):
    from playwright.sync_api import expect

    page, errors = editor_page
    page.goto(f"{live_server.url}/kb/gaps")
    row = page.locator("#gaps tr", has_text=GAP)
    expect(row).to_have_count(1)
    row.get_by_role("button", name="新建知识点").click()
    link = row.locator("a")
    expect(link).to_be_visible()
    entry_id = link.inner_text()
    page.screenshot(path=str(screenshot_path("kb-gaps")), full_page=True)
    link.click()
    expect(page.locator("#editor-title")).to_have_text(entry_id)
    expect(page.locator("#editor-problems li").first).to_contain_text("缺失或为空")
    page.fill("#f-answer", "通过网络直播销售商品本身不需要单独的直播许可证，但所售商品涉及食品等许可经营项目的，须依法取得相应许可。")
    page.fill("#f-similar", "直播卖货要什么许可证\n做直播带货需要办证吗")
    page.fill("#f-legal_basis", "《网络交易监督管理办法》第十二条")
    page.click("#save")
    expect(page.locator("#editor-msg")).to_have_text("已保存为草稿")
    expect(page.locator("#editor-problems li")).to_have_count(0)
    page.click("[data-action=review]")
    expect(page.locator("#editor-meta")).to_contain_text("已审核")
    page.click("[data-action=publish]")
    expect(page.locator("#editor-meta")).to_contain_text("已发布")
    expect(page.locator("#history li")).to_have_count(4)
    page.locator("#history li").first.get_by_role("button", name="与上一版比较").click()
    expect(page.locator("#diff")).to_be_visible()
    page.locator("#history li").nth(2).get_by_role("button", name="与上一版比较").click()
    expect(page.locator("#diff .add").first).to_contain_text("answer: 通过网络直播销售商品")
    expect(page.locator("#index-text")).to_contain_text("重建索引")  # the published change is not live yet
    page.screenshot(path=str(screenshot_path("kb-editor")), full_page=True)
    assert errors == []


def test_upload_report_and_confirm_in_the_browser(editor_page, live_server):
    from playwright.sync_api import expect

    page, errors = editor_page
    page.goto(f"{live_server.url}/kb/import")
    page.set_input_files("#files", [str(DATA / "bad_rows.csv")])
    page.click("#upload button[type=submit]")
    expect(page.locator("#msg")).to_contain_text("未导入任何内容")
    expect(page.locator("#rows tr.st-rejected")).to_have_count(3)
    expect(page.locator("#confirm")).to_be_hidden()
    page.set_input_files("#files", [str(DATA / "policy_front.md")])
    page.click("#upload button[type=submit]")
    expect(page.locator("#confirm")).to_be_visible()
    page.screenshot(path=str(screenshot_path("kb-import")), full_page=True)
    page.click("#confirm")
    expect(page.locator("#msg")).to_contain_text("已导入 1 条")
    assert errors == []
