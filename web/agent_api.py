"""Agent API: login, queues, claim, conversation, reply, work order, close; KB search for agents.

Authentication: `Authorization: Bearer <token>` from POST /api/agent/login, or the console's session cookie
(set by the same login) together with an `X-CSRF-Token` header on every request that changes something.
"""
from __future__ import annotations

import hmac
import secrets
from functools import wraps

from flask import Blueprint, current_app, g, jsonify, request, session

from bot.suggest import search_kb, suggest_for_conversation
from web.agents import AgentInfo, AgentService
from web.service import ChatInputError, ChatService

bp = Blueprint("agent_api", __name__)
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def agents() -> AgentService:
    return current_app.extensions["agent_service"]


def chat_service() -> ChatService:
    return current_app.extensions["chat_service"]


def _body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ChatInputError("invalid_json", "请求体必须是 JSON 对象")
    return body


def current_agent(roles: tuple[str, ...] | None = None) -> AgentInfo:
    """The agent behind a bearer token, or behind the console cookie (which must bring its CSRF token)."""
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        agent = agents().authenticate(header.removeprefix("Bearer ").strip())
    else:
        agent = agents().authenticate(session.get("agent_token"))
        if request.method not in SAFE_METHODS:
            sent = request.headers.get("X-CSRF-Token", "")
            if not sent or not hmac.compare_digest(sent, session.get("csrf", "")):
                raise ChatInputError("csrf_failed", "页面已过期，请刷新后重试（CSRF 校验失败）", 403)
    if roles and agent.role not in roles:
        raise ChatInputError("forbidden", "没有权限", 403)
    return agent


def agent_required(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        g.agent = current_agent()
        return view(*args, **kwargs)

    return wrapper


@bp.post("/api/agent/login")
def login():
    body = _body()
    token, agent = agents().login(body.get("username"), body.get("password"))
    session.clear()
    session.permanent = True
    session["agent_token"] = token
    session["csrf"] = secrets.token_urlsafe(24)
    return jsonify({"token": token, "csrf_token": session["csrf"], "agent": agent.as_json(),
                    "expires_in": agents().token_hours * 3600})


@bp.post("/api/agent/logout")
@agent_required
def logout():
    header = request.headers.get("Authorization", "")
    agents().logout(header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else session.get("agent_token", ""))
    session.clear()
    return jsonify({"ok": True})


@bp.get("/api/agent/me")
@agent_required
def me():
    return jsonify({"agent": g.agent.as_json(), "csrf_token": session.get("csrf")})


@bp.get("/api/agent/tickets")
@agent_required
def tickets():
    status = request.args.get("status", "waiting")
    return jsonify({"tickets": agents().list_tickets(g.agent, request.args.get("queue") or None, status or None)})


@bp.get("/api/agent/tickets/<ticket_id>")
@agent_required
def ticket(ticket_id: str):
    return jsonify(agents().ticket(g.agent, ticket_id))


@bp.post("/api/agent/tickets/<ticket_id>/claim")
@agent_required
def claim(ticket_id: str):
    return jsonify(agents().claim(g.agent, ticket_id))


@bp.post("/api/agent/tickets/<ticket_id>/reply")
@agent_required
def reply(ticket_id: str):
    return jsonify(agents().reply(g.agent, ticket_id, _body().get("text")))


@bp.patch("/api/agent/tickets/<ticket_id>")
@agent_required
def edit(ticket_id: str):
    return jsonify(agents().update_form(g.agent, ticket_id, _body()))


@bp.post("/api/agent/tickets/<ticket_id>/close")
@agent_required
def close(ticket_id: str):
    return jsonify(agents().close(g.agent, ticket_id, _body().get("resolution")))


@bp.get("/api/agent/tickets/<ticket_id>/suggestions")
@agent_required
def suggestions(ticket_id: str):
    """The KB side panel: best-matching knowledge for the conversation so far (`k` results, 1-20)."""
    body = agents().ticket(g.agent, ticket_id)
    texts = [m["text"] for m in body["messages"] if m["role"] == "user"]
    k = _int_arg("k", 5, 1, 20)
    based_on, found = suggest_for_conversation(chat_service().engine, texts, body["form"].get("district") or None, k)
    return jsonify({"ticket_id": ticket_id, "based_on": based_on, "suggestions": found})


@bp.get("/api/kb/search")
@agent_required
def kb_search():
    q = request.args.get("q", "")
    if not q.strip():
        raise ChatInputError("empty_query", "请输入要检索的内容（q）")
    if len(q) > 500:
        raise ChatInputError("query_too_long", "检索内容不超过500字", 413)
    k = _int_arg("k", 5, 1, 20)
    return jsonify({"q": q, "results": search_kb(chat_service().engine, q, k)})


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name, str(default))
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ChatInputError(f"invalid_{name}", f"{name} 须为 {low} 到 {high} 的整数")
    return int(raw)
