"""The Flask web service (app factory): chat API, agent API and console, widget, WeChat, dashboard, KB editing."""
from __future__ import annotations

import logging
import os
import secrets
from datetime import timedelta

from flask import Flask

from hotline.config import Config


def create_app(config: Config | None = None, chat_service=None) -> Flask:
    """Build the app; the chat service (index, models, database) is created once here, not at import."""
    config = config or Config.from_env()
    app = Flask(__name__)
    app.config["HOTLINE"] = config
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024  # a chat request is small; larger bodies get a JSON 413
    app.json.ensure_ascii = False
    if chat_service is None:
        from web.service import open_chat_service

        chat_service = open_chat_service(config)
    app.extensions["chat_service"] = chat_service
    from web.agents import AgentService

    app.extensions["agent_service"] = AgentService(chat_service.sessions, config.agent_token_hours)
    app.secret_key = config.secret_key or _persistent_secret(config)
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                      PERMANENT_SESSION_LIFETIME=timedelta(hours=config.agent_token_hours))
    from web import agent_api, api, dashboard, kb_admin, pages, reload, wechat

    app.register_blueprint(api.bp)  # the chat API every channel shares
    app.register_blueprint(agent_api.bp)  # agents: queues, tickets, KB search
    app.register_blueprint(pages.bp)  # widget, demo page, agent console
    app.register_blueprint(dashboard.bp)  # supervisors' analytics
    wechat.init_app(app, chat_service, app.extensions["agent_service"])  # /wechat and agent pushes
    kb_admin.init_app(app, chat_service.sessions)  # editors: import, lifecycle, gaps
    reload.init_app(app, chat_service, config)  # new index builds go live without a restart
    logging.getLogger(__name__).info("app ready: index %s", chat_service.engine.retriever.snapshot.version)
    return app


def _persistent_secret(config: Config) -> str:
    """One random key per installation, shared by every worker through a file under var/ (written whole, then
    linked into place, so a worker never reads half a key)."""
    path = config.var_dir / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".secret_key.{os.getpid()}")
        tmp.write_text(secrets.token_hex(32))
        tmp.chmod(0o600)
        try:
            os.link(tmp, path)
        except FileExistsError:  # another worker was first; use its key
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()
