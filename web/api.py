"""JSON API: POST /api/chat and GET /healthz, with the contract's error shape."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy import text
from werkzeug.exceptions import HTTPException

from web.service import ChatInputError, ChatService

bp = Blueprint("api", __name__)


def _service() -> ChatService:
    return current_app.extensions["chat_service"]


def error(code: str, message: str, status: int):
    return jsonify({"error": code, "message": message}), status


@bp.app_errorhandler(ChatInputError)
def _chat_input_error(exc: ChatInputError):
    return error(exc.code, exc.message, exc.status)


@bp.app_errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    if request.path.startswith("/api/") or request.path == "/healthz":
        messages = {404: "没有这个接口", 405: "不支持该请求方法", 413: "请求内容过大"}
        return error(exc.name.lower().replace(" ", "_"), messages.get(exc.code, exc.description or exc.name), exc.code)
    return exc


@bp.post("/api/chat")
def chat():
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return error("invalid_json", "请求体必须是 JSON 对象，例如 {\"message\": \"个体户怎么注销\"}", 400)
    channel = body.get("channel", "web")
    if channel not in ("web", "wechat"):
        return error("invalid_channel", f"未知渠道 {channel!r}，可选：web", 400)
    service = _service()
    service.check_rate(request.remote_addr, body.get("session_id"))
    return jsonify(service.chat(body.get("message"), body.get("session_id"), channel=channel))


@bp.get("/api/chat/<session_id>/messages")
def messages(session_id: str):
    after = request.args.get("after", "0")
    if not after.isdigit():
        return error("invalid_after", "after 必须是非负整数（上次收到的最后一条消息序号）", 400)
    return jsonify(_service().messages(session_id, int(after)))


@bp.post("/api/feedback")
def feedback():
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return error("invalid_json", "请求体必须是 JSON 对象", 400)
    _service().feedback(body.get("session_id"), body.get("message_seq"), body.get("value"), body.get("comment", ""))
    return jsonify({"ok": True})


@bp.post("/api/chat/<session_id>/rating")
def rating(session_id: str):
    """The user's 1-5 rating of the human service, once the agent has closed the ticket."""
    from web.agents import rate

    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return error("invalid_json", "请求体必须是 JSON 对象，例如 {\"rating\": 5}", 400)
    rate(_service().sessions, session_id, body.get("ticket_id"), body.get("rating"), body.get("comment", ""))
    return jsonify({"ok": True})


@bp.get("/healthz")
def healthz():
    service = _service()
    db_ok = True
    try:
        with service.sessions() as db:
            db.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - health reports any database failure
        db_ok = False
    manifest = service.engine.retriever.snapshot.manifest
    body = {"status": "ok" if db_ok else "degraded", "index": manifest["build_id"],
            "knowledge_points": manifest["counts"]["knowledge_points"], "model": manifest["model"],
            "database": "ok" if db_ok else "unreachable"}
    return jsonify(body), 200 if db_ok else 503
