"""GET|POST /wechat (the official account's server URL) and the agent console's channel status endpoints."""
from __future__ import annotations

import logging
import time

from flask import Blueprint, Response, current_app, jsonify, request

from web.db import ChatSession, Ticket
from web.service import ChatInputError
from web.wechat.channel import WeChatChannel
from web.wechat.protocol import Inbound, ProtocolError, check_signature, check_timestamp, parse_xml, text_reply

log = logging.getLogger(__name__)
bp = Blueprint("wechat", __name__)
MAX_BODY = 16 * 1024  # WeChat's messages are a few KB at most
CLOCK_SKEW = 300  # seconds; an older signed request is a replay


def _channel() -> WeChatChannel:
    return current_app.extensions["wechat"]


def _plain(text: str, status: int = 200) -> Response:
    return Response(text, status=status, mimetype="text/plain")


@bp.errorhandler(ProtocolError)
def _refused(exc: ProtocolError):
    log.warning("wechat request refused (%s) from %s", exc.reason, request.remote_addr)
    return _plain(exc.reason, exc.status)


def _check_url_signature(channel: WeChatChannel) -> tuple[str, str]:
    if not channel.enabled:
        raise ProtocolError("WeChat channel is not configured (HOTLINE_WECHAT_TOKEN)", 404)
    args = request.args
    timestamp, nonce = args.get("timestamp", ""), args.get("nonce", "")
    check_signature(args.get("signature"), channel.config.wechat_token, timestamp, nonce)
    return timestamp, nonce


@bp.get("/wechat")
def verify():
    """URL verification: echo `echostr` when the signature is WeChat's."""
    _check_url_signature(_channel())
    return _plain(request.args.get("echostr", ""))


@bp.post("/wechat")
def receive():
    channel = _channel()
    timestamp, nonce = _check_url_signature(channel)
    check_timestamp(timestamp, CLOCK_SKEW)
    if (request.content_length or 0) > MAX_BODY:
        raise ProtocolError("body too large", 413)
    body = request.stream.read(MAX_BODY + 1)
    if len(body) > MAX_BODY:
        raise ProtocolError("body too large", 413)
    fields = parse_xml(body)
    encrypted = request.args.get("encrypt_type", "raw").lower() == "aes"
    if encrypted:
        if channel.crypto is None or "Encrypt" not in fields:
            raise ProtocolError("encrypted message but no EncodingAESKey configured, or no Encrypt element")
        fields = parse_xml(channel.crypto.decrypt(fields["Encrypt"], request.args.get("msg_signature"), timestamp,
                                                  nonce))
    elif channel.mode == "safe":
        raise ProtocolError("plaintext message refused in safe mode", 403)
    msg = Inbound.from_fields(fields)
    reply = channel.handle(msg)
    if not reply:
        return _plain("success")
    xml = text_reply(msg.from_user, msg.to_user, reply)
    if encrypted:
        xml = channel.crypto.encrypt(xml, nonce or str(time.time_ns()), str(int(time.time())))
    return Response(xml, mimetype="application/xml")


# -- agent console ----------------------------------------------------------------------------------
def _agent_ticket(ticket_id: str) -> tuple[Ticket, ChatSession]:
    from web.agent_api import current_agent

    agent = current_agent()
    with _channel().sessions() as db:
        ticket = db.get(Ticket, ticket_id)
        if ticket is None:
            raise ChatInputError("unknown_ticket", f"工单 {ticket_id} 不存在", 404)
        if not agent.can_work(ticket.queue):
            raise ChatInputError("forbidden", f"您没有处理“{ticket.queue}”队列工单的权限", 403)
        return ticket, db.get(ChatSession, ticket.session_id)


@bp.get("/api/agent/tickets/<ticket_id>/channel")
def channel_status(ticket_id: str):
    """For a WeChat ticket: the 48 h window, pushes left for this user message, failed and pending pushes."""
    ticket, chat = _agent_ticket(ticket_id)
    if ticket.channel != "wechat":
        return jsonify({"channel": ticket.channel})
    return jsonify(_channel().outbox.status(chat.id, chat.user_ref))


@bp.post("/api/agent/tickets/<ticket_id>/channel/retry")
def channel_retry(ticket_id: str):
    """Send the ticket's failed pushes again, in their original order."""
    ticket, chat = _agent_ticket(ticket_id)
    if ticket.channel != "wechat":
        raise ChatInputError("not_wechat", "该工单不是微信渠道，无需重发", 409)
    channel = _channel()
    ids = channel.outbox.retry(chat.id)
    result = channel.outbox.send(ids) if ids else {"status": "nothing_to_retry", "sent": 0}
    return jsonify({"retried": len(ids), **result, "state": channel.outbox.status(chat.id, chat.user_ref)})
