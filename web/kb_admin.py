"""Knowledge editors' pages and JSON API: /kb (entries, lifecycle, history), /kb/import, /kb/gaps, rebuild."""
from __future__ import annotations

import json
import re
import secrets
import shutil
import time
from datetime import date, datetime, timedelta
from pathlib import Path

from flask import Blueprint, current_app, jsonify, redirect, request, url_for
from werkzeug.utils import secure_filename

from kb.importer import MAX_FILE_BYTES, Existing, build_report
from kb.importer.report import norm
from kb.model import DISTRICTS, ENTITY_TYPES, LINES, CITY_WIDE
from kb.overlay import point_data
from web.agent_api import current_agent
from web.agents import AgentInfo
from web.kb_store import STATUS_ZH, KnowledgeStore
from web.service import ChatInputError

bp = Blueprint("kb_admin", __name__)
EDITOR_ROLES = ("editor", "supervisor")
MAX_UPLOAD_BYTES = MAX_FILE_BYTES + 1024 * 1024  # one full-size file plus the form around it
_TOKEN = re.compile(r"^[0-9a-f]{32}$")


def store() -> KnowledgeStore:
    return current_app.extensions["kb_store"]


def _service():
    return current_app.extensions["chat_service"]


def _config():
    return current_app.config["HOTLINE"]


def _editor() -> AgentInfo:
    return current_agent(roles=EDITOR_ROLES)


def _body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ChatInputError("invalid_json", "请求体必须是 JSON 对象")
    return body


# --- pages ------------------------------------------------------------------------------------------------
def _page(template: str, **context):
    from web.pages import _page as page

    try:
        agent = _editor()
    except ChatInputError as exc:
        if exc.status == 401:
            return redirect(url_for("pages.login", next=request.full_path.rstrip("?")))
        return page("kb/denied.html", 403, message=exc.message)
    return page(template, agent=agent, **context)


@bp.get("/kb")
def entries_page():
    return _page("kb/index.html", statuses=STATUS_ZH, lines=LINES, districts=(CITY_WIDE, *DISTRICTS),
                 entity_types=ENTITY_TYPES)


@bp.get("/kb/import")
def import_page():
    return _page("kb/import.html", max_mb=MAX_FILE_BYTES // 1048576)


@bp.get("/kb/import/template.csv")
def import_template():
    """The hotline template with one example row (UTF-8 with a BOM, so that Excel opens it correctly)."""
    import csv
    import io

    _editor()
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["标准问", "相似问", "答案", "业务线", "事项", "区", "依据", "生效日期", "失效日期", "部门", "渠道", "主体类型"])
    writer.writerow(["个体工商户怎么办理歇业？", "个体户能歇业吗\n个体户暂停营业怎么办", "个体工商户可通过广东政务服务网办理歇业备案……",
                     "商事登记", "歇业备案", "全市", "《促进个体工商户发展条例》第十六条", "2022-10-01", "",
                     "区市场监督管理局", "广东政务服务网", "个体工商户"])
    return current_app.response_class("\ufeff" + buf.getvalue(), mimetype="text/csv; charset=utf-8", headers={
        "Content-Disposition": 'attachment; filename="kb-import-template.csv"', "Cache-Control": "no-store"})


@bp.get("/kb/gaps")
def gaps_page():
    return _page("kb/gaps.html")


# --- served knowledge -------------------------------------------------------------------------------------
def served_points() -> dict[str, dict]:
    """The points of the index this worker serves, as flat records."""
    units = _service().engine.retriever.snapshot.units
    return {u.id: point_data(u.kp) for u in units if u.kp is not None}


def _existing() -> Existing:
    from kb.model import Corpus

    snapshot = _service().engine.retriever.snapshot
    corpus = Corpus(points=tuple(u.kp for u in snapshot.units if u.kp is not None))
    existing = Existing.from_corpus(corpus, store().all_data())
    for unit in snapshot.units:  # policies are served as chunks: titles are enough to find a re-import
        if unit.kind == "policy":
            doc_id = unit.id.split("#")[0]
            existing.policies.setdefault(doc_id, {"id": doc_id, "title": (unit.doc or {}).get("title", "")})
            existing.by_title.setdefault(norm((unit.doc or {}).get("title", "")), doc_id)
    return existing


def check_publish(kind: str, data: dict) -> None:
    """Refuse a publish that would repeat the standard question or answer of another served point or of another
    entry published since the last build."""
    if kind != "point":
        return
    q, a = norm(data.get("question", "")), norm(data.get("answer", ""))
    others = served_points()
    others.update({e.id: e.data for e in store().overlay() if e.kind == "point" and e.status == "published"})
    for pid, other in others.items():
        if pid == data["id"]:
            continue
        if norm(other["question"]) == q:
            raise ChatInputError("duplicate_question", f"标准问与已发布的知识点 {pid} 相同，请改为编辑该知识点", 409)
        if norm(other["answer"]) == a:
            raise ChatInputError("duplicate_answer", f"答案与已发布的知识点 {pid} 相同（每个知识点的答案须唯一）", 409)


# --- entries API ------------------------------------------------------------------------------------------
@bp.get("/api/kb/entries")
def list_entries():
    _editor()
    status = request.args.get("status") or None
    if status and status not in STATUS_ZH:
        raise ChatInputError("invalid_status", f"status 可选：{'、'.join(STATUS_ZH)}")
    return jsonify({"entries": store().entries(request.args.get("q", "")[:200], status)})


@bp.get("/api/kb/served/<point_id>")
def served(point_id: str):
    """A served point's record (to start editing a YAML point), and its entry when it has one."""
    _editor()
    data = served_points().get(point_id)
    entry = store().get(point_id)
    if data is None and entry is None:
        raise ChatInputError("unknown_entry", f"知识点 {point_id} 不存在", 404)
    return jsonify({"id": point_id, "served": data, "entry": entry})


@bp.post("/api/kb/entries")
def create_entry():
    agent = _editor()
    body = _body()
    kind = body.get("kind", "point")
    data = body.get("data")
    origin = "yaml" if isinstance(data, dict) and data.get("id") in served_points() else "new"
    return jsonify(store().create(kind, data, agent.username, origin=origin, note=str(body.get("note", ""))[:500])), 201


@bp.get("/api/kb/entries/<entry_id>")
def get_entry(entry_id: str):
    _editor()
    entry = store().get(entry_id)
    if entry is None:
        raise ChatInputError("unknown_entry", f"条目 {entry_id} 不存在", 404)
    return jsonify({**entry, "history": store().history(entry_id)})


@bp.post("/api/kb/entries/<entry_id>")
def update_entry(entry_id: str):
    agent = _editor()
    body = _body()
    version = body.get("version")
    if version is not None and (not isinstance(version, int) or isinstance(version, bool)):
        raise ChatInputError("invalid_version", "version 必须是整数")
    return jsonify(store().update(entry_id, body.get("data"), agent.username, version, str(body.get("note", ""))[:500]))


@bp.post("/api/kb/entries/<entry_id>/<action>")
def transition(entry_id: str, action: str):
    agent = _editor()
    body = request.get_json(silent=True) or {}
    note = str(body.get("note", ""))[:500] if isinstance(body, dict) else ""
    if action == "restore":
        version = body.get("version") if isinstance(body, dict) else None
        if not isinstance(version, int) or isinstance(version, bool):
            raise ChatInputError("invalid_version", "请指定要恢复的版本号 version（整数）")
        return jsonify(store().restore(entry_id, version, agent.username))
    if action == "similar":
        phrasing = body.get("phrasing") if isinstance(body, dict) else None
        return jsonify(store().add_similar(entry_id, served_points().get(entry_id), phrasing, agent.username))
    return jsonify(store().transition(entry_id, action, agent.username, note, check_publish=check_publish))


@bp.get("/api/kb/entries/<entry_id>/diff")
def diff(entry_id: str):
    _editor()
    try:
        old, new = int(request.args.get("old", "")), int(request.args.get("new", ""))
    except ValueError:
        raise ChatInputError("invalid_version", "old 和 new 须为版本号（整数）") from None
    return jsonify(store().diff(entry_id, old, new))


# --- import -----------------------------------------------------------------------------------------------
def _import_dir() -> Path:
    return _config().var_dir / "import"


def _report_for(folder: Path) -> tuple[dict, object]:
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    paths = [folder / "files" / stored for stored in meta["stored"]]
    return meta, build_report(paths, _existing(), names=meta["names"])


def _forget_old_uploads(hours: int = 24) -> None:
    """Uploads checked but never confirmed are kept for a day."""
    if not _import_dir().is_dir():
        return
    limit = time.time() - hours * 3600
    for folder in _import_dir().iterdir():
        if folder.is_dir() and _TOKEN.match(folder.name) and folder.stat().st_mtime < limit:
            shutil.rmtree(folder, ignore_errors=True)


@bp.post("/api/kb/import")
def upload():
    """Files → report; nothing changes until POST /api/kb/import/<token>/confirm."""
    agent = _editor()
    if request.content_length and request.content_length > MAX_UPLOAD_BYTES:
        raise ChatInputError("file_too_large", f"上传内容过大：{request.content_length / 1048576:.1f} MB，单个文件上限 "
                                               f"{MAX_FILE_BYTES // 1048576} MB，请拆分后分批上传", 413)
    request.max_content_length = MAX_UPLOAD_BYTES
    files = [f for f in request.files.getlist("files") if f and f.filename]
    if not files:
        raise ChatInputError("no_file", "请选择要导入的文件（xlsx、csv、jsonl、md、docx、pdf）")
    status = request.form.get("status", "draft")
    if status not in ("draft", "published"):
        raise ChatInputError("invalid_status", "导入后的状态只能是 draft（草稿）或 published（直接发布）")
    _forget_old_uploads()
    token = secrets.token_hex(16)
    folder = _import_dir() / token
    (folder / "files").mkdir(parents=True)
    names, stored = [], []
    for i, upload_file in enumerate(files):
        suffix = Path(upload_file.filename).suffix.lower()
        name = f"{i:02d}-{secure_filename(upload_file.filename) or 'upload'}"
        name = name if name.lower().endswith(suffix) else name + suffix
        upload_file.save(folder / "files" / name)
        names.append(Path(upload_file.filename).name)
        stored.append(name)
    meta = {"author": agent.username, "status": status, "names": names, "stored": stored}
    (folder / "meta.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    _, report = _report_for(folder)
    if not report.ok or not report.records():
        shutil.rmtree(folder, ignore_errors=True)
        return jsonify({"token": None, "report": report.as_json()})
    return jsonify({"token": token, "report": report.as_json()})


@bp.post("/api/kb/import/<token>/confirm")
def confirm(token: str):
    """Check again against the knowledge as it is now, then import everything in one transaction."""
    agent = _editor()
    folder = _import_dir() / token
    gone = ChatInputError("unknown_import", "找不到这次上传（可能已导入或已过期），请重新上传", 404)
    if not _TOKEN.match(token):
        raise gone
    try:
        meta, report = _report_for(folder)
    except FileNotFoundError:  # never uploaded, expired, or a second confirmation that lost the race
        raise gone from None
    if meta["author"] != agent.username:
        raise ChatInputError("forbidden", "只能确认自己上传的文件", 403)
    if not report.ok:
        return jsonify({"imported": None, "report": report.as_json(),
                        "message": "知识库在上传后发生了变化，重新检查发现错误，未导入任何内容"}), 409
    ids = store().import_records(report.records(), agent.username, meta["status"],
                                 note=f"导入 {'、'.join(meta['names'])}"[:500])
    shutil.rmtree(folder, ignore_errors=True)
    return jsonify({"imported": ids, "report": report.as_json()})


# --- knowledge gaps ---------------------------------------------------------------------------------------
@bp.get("/api/kb/gaps")
def gaps():
    _editor()
    days = request.args.get("days", "30")
    if not days.isdigit() or not 1 <= int(days) <= 366:
        raise ChatInputError("invalid_days", "days 须为 1 到 366 的整数")
    channel = request.args.get("channel") or None
    try:
        from web.analytics import LOCAL_TZ, unanswered_clusters
    except ImportError:  # the analytics module is part of the dashboard; without it there is no list to show
        raise ChatInputError("gaps_unavailable", "未解答问题统计模块不可用", 503) from None
    end = datetime.now(LOCAL_TZ).date()  # the hotline's local day, as the dashboard counts it
    start = end - timedelta(days=int(days) - 1)
    gaps = unanswered_clusters(_service().sessions, start, end, channel=channel, limit=100)
    phrasings: dict[str, list[str]] = {}  # a phrasing → the editorial points that already carry it
    for kind, entry_id, _status, data in store().all_data():
        if kind == "point":
            for text in [data.get("question", ""), *data.get("similar", [])]:
                phrasings.setdefault(norm(text), []).append(entry_id)
    for gap in gaps:
        gap["entries"] = sorted({e for t in [gap["text"], *gap["examples"]] for e in phrasings.get(norm(t), [])})
    return jsonify({"start": start.isoformat(), "end": end.isoformat(), "gaps": gaps})


@bp.post("/api/kb/gaps/draft")
def gap_draft():
    """A new draft point for an unanswered question: the phrasing as standard question, the cluster's other
    phrasings as similar questions, line / item / department / channel copied from the nearest point; the answer
    and its legal basis are the editor's to write."""
    from bot.suggest import search_kb

    agent = _editor()
    body = _body()
    text = body.get("text")
    if not isinstance(text, str) or not text.strip() or len(text) > 300:
        raise ChatInputError("invalid_text", "问题文本不能为空，且不超过300字")
    text = text.strip()
    examples = [e.strip() for e in body.get("examples", []) if isinstance(e, str) and e.strip()][:20]
    similar = list(dict.fromkeys(e for e in examples if norm(e) != norm(text)))[:5]
    existing = _existing()
    if (holder := existing.by_phrasing.get(norm(text))) is not None:
        raise ChatInputError("already_covered", f"知识点 {holder} 已包含这个问法（可能尚未发布），请直接编辑它", 409)
    nearest = next((r for r in search_kb(_service().engine, text, 5) if r.get("kind") == "kp"), None)
    base = existing.points.get(nearest["id"]) if nearest else None
    data = {"question": text, "similar": similar, "answer": "", "effective_from": date.today().isoformat()}
    if base:
        # the item's fields only: legal basis, entity types and district are the editor's to set for this question
        data.update({k: base[k] for k in ("line", "item", "item_code", "department", "channel") if k in base})
    else:
        data.update(line="其他", item="待定事项", item_code="NEW")
    data = existing.new_point_id(data)
    entry = store().create("point", data, agent.username, origin="new", note=f"来自未解答问题：{text}"[:500])
    return jsonify({**entry, "nearest": nearest}), 201


# --- index ------------------------------------------------------------------------------------------------
def index_status() -> dict:
    from indexer.build import fingerprint
    from kb.overlay import overlay_hash
    from web.reload import build_running, last_build_log

    config = _config()
    engine = _service().engine
    manifest = engine.retriever.snapshot.manifest
    entries = store().overlay()
    wanted = fingerprint(config.kb_dir, engine.retriever.embedder.name, overlay_hash(entries) if entries else "")
    until = manifest.get("valid_until")
    watcher = current_app.extensions.get("index_watcher")
    return {"serving": manifest["build_id"], "built_at": manifest.get("built_at"),
            "knowledge_points": manifest["counts"]["knowledge_points"],
            "stale": wanted != manifest.get("corpus_hash") or bool(until and date.today().isoformat() >= until),
            "building": build_running(config), "log": last_build_log(config, 2000),
            "swap_error": watcher.last_error if watcher else None}


@bp.get("/api/kb/index")
def index_info():
    _editor()
    return jsonify(index_status())


@bp.post("/api/kb/index/rebuild")
def rebuild():
    """Start an incremental rebuild in a separate process; every worker swaps the new build in when it is ready."""
    from web.reload import start_rebuild

    _editor()
    started = start_rebuild(_config())
    return jsonify({"started": started, "message": "已开始重建索引，完成后自动生效" if started else "已有索引构建在进行中",
                    **index_status()}), 202 if started else 409


def init_app(app, sessions) -> None:
    app.extensions["kb_store"] = KnowledgeStore(sessions)
    app.register_blueprint(bp)
