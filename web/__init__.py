"""The Flask web service: chat API and health check (app factory)."""
from __future__ import annotations

import logging

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
    from web import api

    app.register_blueprint(api.bp)
    logging.getLogger(__name__).info("app ready: index %s", chat_service.engine.retriever.snapshot.version)
    return app
