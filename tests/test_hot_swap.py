"""A new index goes live in a running server under load: no failed request, and the new knowledge answers."""
from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
import yaml

from kb.loader import load_corpus
from tests.conftest import make_config

NEW_QUESTION = "分公司营业执照遗失了怎么补领？"
QUESTIONS = ["个体户注销需要什么材料", "简易注销公示多少天", "新公司多久要开公积金账户", "公积金比例最低多少", "你好"]


def _add_point(kb_dir) -> None:
    path = kb_dir / "商事登记" / "bl.yaml"
    path.write_text(yaml.safe_dump({
        "item": {"code": "T-BL", "name": "营业执照补领", "line": "商事登记", "department": "区市场监督管理局",
                 "channel": "广东政务服务网", "legal_basis": "《中华人民共和国市场主体登记管理条例实施细则》第五十九条",
                 "effective_from": "2022-03-01"},
        "points": [{"id": "T-BL-001", "question": NEW_QUESTION, "similar": ["分公司执照丢了怎么补", "分公司执照遗失补办"],
                    "answer": "分公司营业执照遗失的，可通过国家企业信用信息公示系统发布作废声明后申请补领。"}]},
        allow_unicode=True), encoding="utf-8")


@pytest.fixture()
def server(tmp_path, tokenizer, fake_embedder, kb_copy):
    from werkzeug.serving import make_server

    from bot.runtime import load_runtime
    from indexer.build import build_index, fingerprint
    from web import create_app
    from web.service import open_chat_service

    config = make_config(tmp_path / "var", kb_dir=kb_copy, index_check_seconds=0.05, rate_limit_ip_per_minute=0,
                         rate_limit_session_per_minute=0)
    build_index(load_corpus(kb_copy), config.index_path, tokenizer, fake_embedder, fingerprint(kb_copy, fake_embedder.name))
    service = open_chat_service(config, load_runtime(config, embedder=fake_embedder, tokenizer=tokenizer))
    app = create_app(config, chat_service=service)
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}", config, app
    httpd.shutdown()
    service.close()


def _post(base: str, message: str) -> dict:
    request = urllib.request.Request(f"{base}/api/chat", data=json.dumps({"message": message}).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
        return json.loads(response.read())


def _health(base: str) -> str:
    with urllib.request.urlopen(f"{base}/healthz", timeout=10) as response:
        return json.loads(response.read())["index"]


def test_new_index_goes_live_under_load_with_zero_errors(server, kb_copy, tokenizer, fake_embedder):
    from indexer.build import build_index, fingerprint

    base, config, app = server
    old_index = _health(base)
    assert _post(base, NEW_QUESTION)["sources"][:1] != [{"id": "T-BL-001"}]
    stop = threading.Event()
    results: list[tuple[float, str]] = []
    errors: list[str] = []

    def client(n: int) -> None:
        i = n
        while not stop.is_set():
            try:
                body = _post(base, QUESTIONS[i % len(QUESTIONS)])
                assert body["type"] in ("answer", "clarify", "fallback", "chitchat", "handoff")
                results.append((time.monotonic(), body["type"]))
            except (AssertionError, urllib.error.URLError, OSError, ValueError) as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
            i += 1

    with ThreadPoolExecutor(max_workers=6) as pool:
        for n in range(6):
            pool.submit(client, n)
        time.sleep(1.0)
        _add_point(kb_copy)
        built = build_index(load_corpus(kb_copy), config.index_path, tokenizer, fake_embedder,
                            fingerprint(kb_copy, fake_embedder.name))
        swapped_at = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if _health(base) == built.folder.name:
                swapped_at = time.monotonic()
                break
            time.sleep(0.05)
        time.sleep(1.0)  # keep the load on after the swap
        stop.set()
    assert swapped_at is not None, "the new index was not swapped in"
    assert errors == []
    before = sum(t < swapped_at for t, _ in results)
    after = sum(t >= swapped_at for t, _ in results)
    print(f"hot swap under load: {before} requests before, {after} after the swap, {len(errors)} errors")
    assert before > 20 and after > 5, (before, after)
    assert built.folder.name != old_index and app.extensions["index_watcher"].swaps == 1
    answer = _post(base, NEW_QUESTION)
    assert answer["type"] == "answer" and answer["sources"][0]["id"] == "T-BL-001"


def test_a_broken_build_keeps_the_old_index_serving(server):
    base, config, app = server
    old_index = _health(base)
    broken = config.index_path / "builds" / "zz-broken"
    broken.mkdir(parents=True)
    (broken / "manifest.json").write_text('{"format": 999}')
    link = config.index_path / "current"
    tmp = config.index_path / ".current-test"
    tmp.symlink_to(broken.relative_to(config.index_path), target_is_directory=True)
    tmp.replace(link)
    watcher = app.extensions["index_watcher"]
    deadline = time.monotonic() + 10
    while watcher.last_error is None and time.monotonic() < deadline:
        _post(base, "你好")
        time.sleep(0.1)
    assert watcher.last_error and "format" in watcher.last_error
    assert _health(base) == old_index
    assert _post(base, "个体户注销需要什么材料")["type"] in ("answer", "clarify")
