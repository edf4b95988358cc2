"""Knowledge lifecycle, history, the overlay merge, editor pages and API, and closing a knowledge gap end to end."""
from __future__ import annotations

import time
from datetime import date, timedelta

import pytest

from kb.loader import load_corpus
from kb.overlay import Entry, merge, overlay_hash, point_data, valid_until
from tests.conftest import TINY_KB, make_config

GAP_QUESTION = "外卖店铺的食品经营许可证到期了怎么延续"


def _point(pid: str = "T-ZX-009", **changes) -> dict:
    data = {"id": pid, "line": "商事登记", "item": "注销登记", "item_code": "T-ZX", "question": "歇业备案要多久办完？",
            "similar": ["歇业备案几天办好", "歇业登记多长时间"], "answer": "歇业备案即时办结。",
            "effective_from": "2022-03-01", "district": "全市", "entity_types": ["全部"], "department": "区市场监督管理局",
            "legal_basis": "《中华人民共和国市场主体登记管理条例》第三十条", "channel": "广东政务服务网"}
    return {**data, **changes}


# --- the pure merge -----------------------------------------------------------------------------------------
def test_merge_adds_replaces_retires_and_drops_points_out_of_force():
    corpus = load_corpus(TINY_KB)
    replaced = point_data(corpus.by_id["T-ZX-003"]) | {"answer": "简易注销公示期为20日，公示期内无异议的可申请注销。"}
    entries = [Entry("T-ZX-009", "point", "published", _point()),
               Entry("T-ZX-003", "point", "published", replaced),
               Entry("T-ZX-004", "point", "retired", point_data(corpus.by_id["T-ZX-004"])),
               Entry("T-ZX-010", "point", "published", _point("T-ZX-010", question="已过期的问题？", answer="过期答案。",
                                                              similar=["过期一", "过期二"], expires_on="2023-01-01")),
               Entry("T-ZX-011", "point", "draft", None)]
    served = merge(corpus, entries, today=date(2026, 12, 4))
    ids = {p.id for p in served.points}
    assert "T-ZX-009" in ids and "T-ZX-004" not in ids and "T-ZX-010" not in ids and "T-ZX-011" not in ids
    assert served.by_id["T-ZX-003"].answer.startswith("简易注销公示期为20日，公示期内")
    assert len(served.points) == len(corpus.points) + 1 - 1
    assert any(w.entry == "T-ZX-010" for w in served.warnings)


def test_merge_leaves_out_a_published_entry_that_repeats_a_seed_question():
    corpus = load_corpus(TINY_KB)
    twin = _point(question=corpus.by_id["T-ZX-001"].question)
    served = merge(corpus, [Entry("T-ZX-009", "point", "published", twin)], today=date(2026, 12, 4))
    assert "T-ZX-009" not in served.by_id and "T-ZX-001" in served.by_id
    assert any(w.entry == "T-ZX-009" and "not served" in w.message for w in served.warnings)


def test_overlay_hash_changes_with_what_is_served_and_valid_until_finds_the_next_expiry():
    a = [Entry("T-ZX-009", "point", "published", _point())]
    b = [Entry("T-ZX-009", "point", "published", _point(answer="歇业备案当场办结。"))]
    c = [Entry("T-ZX-009", "point", "retired", _point())]
    assert len({overlay_hash(a), overlay_hash(b), overlay_hash(c)}) == 3
    today = date(2026, 12, 4)
    entries = [Entry("T-ZX-009", "point", "published", _point(expires_on="2027-02-01"))]
    served = merge(load_corpus(TINY_KB), entries, today=today)
    assert valid_until(served, entries, today) == date(2027, 2, 1)
    early = merge(load_corpus(TINY_KB, today=date(2022, 2, 1)), [], today=date(2022, 2, 1))  # T-ZX not yet in force
    assert valid_until(early, [], date(2022, 2, 1)) == date(2022, 3, 1)


def test_the_watcher_starts_a_rebuild_once_the_served_build_has_expired(live, monkeypatch):
    from web import reload

    app, client, service = live
    calls = []
    monkeypatch.setattr(reload, "start_rebuild", lambda config: calls.append(config) or True)
    manifest = service.engine.retriever.snapshot.manifest
    monkeypatch.setitem(manifest, "valid_until", (date.today() - timedelta(days=1)).isoformat())
    watcher = app.extensions["index_watcher"]
    for _ in range(3):
        watcher._next = 0.0
        watcher.check()
    assert len(calls) == 1  # once a day, not on every check


# --- the store ----------------------------------------------------------------------------------------------
@pytest.fixture()
def store(database_url, tmp_path):
    from web.kb_store import open_store

    s = open_store(make_config(tmp_path, database_url=database_url))
    yield s
    s.close()


def test_lifecycle_history_diff_and_restore(store):
    from web.service import ChatInputError

    store.create("point", _point(), "alice")
    with pytest.raises(ChatInputError) as exc:
        store.transition("T-ZX-009", "publish", "bob")
    assert exc.value.code == "invalid_transition" and "已审核" in exc.value.message
    store.transition("T-ZX-009", "review", "bob")
    assert store.transition("T-ZX-009", "publish", "bob")["status"] == "published"
    edited = store.update("T-ZX-009", _point(answer="歇业备案当场办结，无需等待。"), "alice", version=3)
    assert edited["status"] == "draft" and edited["published"]["answer"] == "歇业备案即时办结。"  # still served
    assert [e.data["answer"] for e in store.overlay()] == ["歇业备案即时办结。"]
    with pytest.raises(ChatInputError) as exc:  # a stale editor does not overwrite a newer version
        store.update("T-ZX-009", _point(answer="别的答案。"), "carol", version=3)
    assert exc.value.status == 409
    history = store.history("T-ZX-009")
    assert [(h["action"], h["status"], h["author"]) for h in history] == [
        ("create", "draft", "alice"), ("review", "reviewed", "bob"), ("publish", "published", "bob"),
        ("edit", "draft", "alice")]
    diff = store.diff("T-ZX-009", 3, 4)
    assert diff["changed"] == ["answer"]
    assert "-answer: 歇业备案即时办结。" in diff["diff"] and "+answer: 歇业备案当场办结，无需等待。" in diff["diff"]
    restored = store.restore("T-ZX-009", 1, "alice")
    assert restored["version"] == 5 and restored["data"]["answer"] == "歇业备案即时办结。"
    assert len(store.history("T-ZX-009")) == 5  # restoring adds a revision, never rewrites one
    store.transition("T-ZX-009", "retire", "bob")
    assert [(e.id, e.status) for e in store.overlay()] == [("T-ZX-009", "retired")]
    store.restore("T-ZX-009", 3, "alice")  # a draft again: still retired until it is published again
    assert [(e.id, e.status) for e in store.overlay()] == [("T-ZX-009", "retired")]
    store.transition("T-ZX-009", "review", "bob")
    store.transition("T-ZX-009", "publish", "bob")
    assert [(e.id, e.status) for e in store.overlay()] == [("T-ZX-009", "published")]


def test_review_needs_a_complete_point_but_a_draft_may_be_incomplete(store):
    from web.service import ChatInputError

    entry = store.create("point", _point(answer=""), "alice")
    assert "答案：缺失或为空" in entry["problems"]
    with pytest.raises(ChatInputError) as exc:
        store.transition("T-ZX-009", "review", "bob")
    assert exc.value.code == "invalid_entry" and "答案：缺失或为空" in exc.value.message
    with pytest.raises(ChatInputError):
        store.create("point", _point(district="天和区"), "alice", status="published")


# --- the web side -------------------------------------------------------------------------------------------
@pytest.fixture()
def live(tmp_path, tokenizer, fake_embedder, database_url):
    """An app on its own index folder (so rebuilding it touches no other test), with an editor logged in."""
    from bot.runtime import load_runtime
    from indexer.build import build_index, fingerprint
    from web import create_app
    from web.service import open_chat_service

    config = make_config(tmp_path / "var", database_url=database_url, index_check_seconds=0.1)
    build_index(load_corpus(TINY_KB), config.index_path, tokenizer, fake_embedder,
                fingerprint(TINY_KB, fake_embedder.name))
    service = open_chat_service(config, load_runtime(config, embedder=fake_embedder, tokenizer=tokenizer))
    app = create_app(config, chat_service=service)
    app.config["TESTING"] = True
    app.extensions["agent_service"].add_agent("editor1", "editor-pass-1", [], role="editor")
    app.extensions["agent_service"].add_agent("agent1", "agent-pass-1", ["商事登记"])
    client = app.test_client()
    csrf = client.post("/api/agent/login", json={"username": "editor1", "password": "editor-pass-1"}).json["csrf_token"]
    client.environ_base["HTTP_X_CSRF_TOKEN"] = csrf
    yield app, client, service
    service.close()


def test_pages_need_an_editor_and_mutations_need_csrf(live):
    app, client, _ = live
    anonymous = app.test_client()
    response = anonymous.get("/kb/gaps")
    assert response.status_code == 302 and "/agent/login?next=/kb/gaps" in response.headers["Location"]
    assert anonymous.get("/api/kb/entries").status_code == 401
    agent = app.test_client()
    agent.post("/api/agent/login", json={"username": "agent1", "password": "agent-pass-1"})
    assert agent.get("/kb").status_code == 403
    for page in ("/kb", "/kb/import", "/kb/gaps"):
        body = client.get(page)
        assert body.status_code == 200 and "知识库管理" in body.get_data(as_text=True)
        assert "script-src 'self'" in body.headers["Content-Security-Policy"]
    no_csrf = app.test_client()
    no_csrf.post("/api/agent/login", json={"username": "editor1", "password": "editor-pass-1"})
    refused = no_csrf.post("/api/kb/entries", json={"kind": "point", "data": _point()})
    assert refused.status_code == 403 and refused.json["error"] == "csrf_failed"


def test_publish_refuses_a_question_already_served_or_just_published(live):
    _, client, _ = live
    taken = _point("T-ZX-009", question="有限责任公司注销登记需要哪些材料？")  # T-ZX-001's question
    client.post("/api/kb/entries", json={"kind": "point", "data": taken})
    client.post("/api/kb/entries/T-ZX-009/review")
    refused = client.post("/api/kb/entries/T-ZX-009/publish")
    assert refused.status_code == 409 and "T-ZX-001" in refused.json["message"]
    for pid in ("T-ZX-010", "T-ZX-011"):  # the same new question twice before any rebuild
        client.post("/api/kb/entries", json={"kind": "point", "data": _point(pid, answer=f"{pid} 的答案。")})
        client.post(f"/api/kb/entries/{pid}/review")
    assert client.post("/api/kb/entries/T-ZX-010/publish").status_code == 200
    second = client.post("/api/kb/entries/T-ZX-011/publish")
    assert second.status_code == 409 and "T-ZX-010" in second.json["message"]


def test_similar_question_on_a_seed_point_copies_it_into_a_draft(live):
    _, client, _ = live
    response = client.post("/api/kb/entries/T-ZX-002/similar", json={"phrasing": "个体户关门了要去注销吗"})
    assert response.status_code == 200
    body = response.json
    assert body["status"] == "draft" and body["origin"] == "yaml" and "个体户关门了要去注销吗" in body["data"]["similar"]
    assert [h["action"] for h in client.get("/api/kb/entries/T-ZX-002").json["history"]] == ["create", "edit"]
    again = client.post("/api/kb/entries/T-ZX-002/similar", json={"phrasing": "个体户关门了要去注销吗"})
    assert again.status_code == 409


def _wait(predicate, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_a_gap_becomes_an_answer_two_clicks_then_publish_and_rebuild(live):
    app, client, service = live
    asked = client.post("/api/chat", json={"message": GAP_QUESTION, "session_id": None}).json
    assert asked["type"] == "fallback"
    gaps = client.get("/api/kb/gaps?days=7").json["gaps"]
    gap = next(g for g in gaps if g["text"] == GAP_QUESTION)
    draft = client.post("/api/kb/gaps/draft", json={"text": gap["text"], "examples": gap["examples"]})
    assert draft.status_code == 201
    entry = draft.json
    assert entry["status"] == "draft" and entry["data"]["question"] == GAP_QUESTION and entry["problems"]
    assert "legal_basis" not in entry["data"] and entry["data"]["similar"] == []
    data = entry["data"] | {"answer": "食品经营许可证有效期届满需要延续的，应在届满前40个工作日提出延续申请。",
                            "legal_basis": "《食品经营许可和备案管理办法》第三十一条",
                            "similar": ["食品经营许可证过期了怎么续", "外卖店食品许可证续期怎么办"]}
    twice = client.post("/api/kb/gaps/draft", json={"text": gap["text"], "examples": gap["examples"]})
    assert twice.status_code == 409 and entry["id"] in twice.json["message"]
    listed = client.get("/api/kb/gaps?days=7").json["gaps"]
    assert next(g for g in listed if g["text"] == GAP_QUESTION)["entries"] == [entry["id"]]  # shown as in hand
    saved = client.post(f"/api/kb/entries/{entry['id']}", json={"data": data, "version": entry["version"]})
    assert saved.status_code == 200 and saved.json["problems"] == []
    assert client.post(f"/api/kb/entries/{entry['id']}/review").json["status"] == "reviewed"
    assert client.post(f"/api/kb/entries/{entry['id']}/publish").json["status"] == "published"
    status = client.get("/api/kb/index").json
    assert status["stale"] is True
    old = status["serving"]
    started = client.post("/api/kb/index/rebuild")
    assert started.status_code == 202, started.json
    _wait(lambda: not client.get("/api/kb/index").json["building"] and
          app.extensions["index_watcher"].current.name != old, 90)  # each request lets the watcher look
    _wait(lambda: client.get("/healthz").json["index"] != old)
    answer = client.post("/api/chat", json={"message": GAP_QUESTION, "session_id": None}).json
    assert answer["type"] == "answer", answer
    assert answer["sources"][0]["id"] == entry["id"]
    assert client.get("/api/kb/index").json["stale"] is False
    assert service.engine.retriever.snapshot.manifest["overlay_entries"] == 1


def test_expired_points_are_not_served_and_make_the_index_stale(tmp_path):
    from indexer.build import is_stale

    folder = tmp_path / "builds" / "b1"
    folder.mkdir(parents=True)
    (tmp_path / "current").symlink_to(folder)
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    (folder / "manifest.json").write_text(f'{{"corpus_hash": "h", "valid_until": "{yesterday}"}}')
    assert is_stale(tmp_path, "h")
    (folder / "manifest.json").write_text('{"corpus_hash": "h", "valid_until": "2999-01-01"}')
    assert not is_stale(tmp_path, "h")
    corpus = load_corpus(TINY_KB)
    expiring = point_data(corpus.by_id["T-ZX-003"]) | {"expires_on": date.today().isoformat()}
    served = merge(corpus, [Entry("T-ZX-003", "point", "published", expiring)])
    assert "T-ZX-003" not in served.by_id


def test_two_builds_do_not_overlap(tmp_path):
    from indexer.build import build_lock

    with build_lock(tmp_path) as first:
        with build_lock(tmp_path) as second:
            assert first and not second
    with build_lock(tmp_path) as again:
        assert again

