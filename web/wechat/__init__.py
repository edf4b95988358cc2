"""The WeChat official-account channel: server URL /wechat, pushes, and its status for the agent console."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask, chat_service, agent_service) -> None:
    """Register the blueprint and the "wechat" deliverer; pushes need HOTLINE_WECHAT_APPID and _SECRET."""
    from web.wechat.api_client import WeChatApi
    from web.wechat.channel import WeChatChannel
    from web.wechat.views import bp

    config = app.config["HOTLINE"]
    api = WeChatApi(chat_service.sessions, config.wechat_appid, config.wechat_secret, config.wechat_api_base) \
        if config.wechat_appid and config.wechat_secret else None
    channel = WeChatChannel(config, chat_service, api)
    app.extensions["wechat"] = channel
    agent_service.deliverers["wechat"] = channel.deliver
    if channel.enabled:
        channel.watch_notices()
    app.register_blueprint(bp)
