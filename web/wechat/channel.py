"""The WeChat channel: one answer per delivered message (retries de-duplicated), passive or pushed, and pushes
of agent replies and notices through the outbox."""
from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import delete, event, inspect, select
from sqlalchemy.exc import IntegrityError

from hotline.config import Config
from web.db import ChatSession, Message, Ticket, utcnow
from web.service import ChatInputError, ChatService
from web.wechat.api_client import WeChatApi
from web.wechat.models import WeChatInbound, WeChatUser
from web.wechat.outbox import Outbox
from web.wechat.protocol import Inbound, MessageCrypto, split_text
from web.wechat.replies import (BUSY, ONLY_TEXT, RATED, TOO_FAST, UNKNOWN_MENU, WELCOME, format_turn, masked,
                                parse_menu)

log = logging.getLogger(__name__)
MODES = ("plaintext", "compatible", "safe")


class _Job:
    """A bot turn running for one inbound message; the request waits for it up to the passive deadline."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.deferred = False
        self.result: tuple[str, str | None] = (BUSY, None)


class WeChatChannel:
    def __init__(self, config: Config, chat: ChatService, api: WeChatApi | None = None):
        mode = config.wechat_mode or ("safe" if config.wechat_aes_key else "plaintext")
        if mode not in MODES:
            raise ValueError(f"HOTLINE_WECHAT_MODE={mode!r}; expected one of {', '.join(MODES)}")
        if mode != "plaintext" and not config.wechat_aes_key:
            raise ValueError(f"HOTLINE_WECHAT_MODE={mode} needs HOTLINE_WECHAT_AES_KEY (the EncodingAESKey)")
        if config.wechat_aes_key and not config.wechat_appid:
            raise ValueError("HOTLINE_WECHAT_AES_KEY needs HOTLINE_WECHAT_APPID: encrypted messages carry the AppID")
        self.config, self.chat, self.sessions, self.mode = config, chat, chat.sessions, mode
        self.enabled = bool(config.wechat_token)
        self.crypto = MessageCrypto(config.wechat_token, config.wechat_aes_key, config.wechat_appid) \
            if config.wechat_aes_key else None
        self.menu = parse_menu(config.wechat_menu)
        self.outbox = Outbox(self.sessions, api)
        self.passive_seconds = config.wechat_passive_seconds
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self._futures: set[Future] = set()
        self._received = 0

    # -- background work -----------------------------------------------------------------------------
    def submit(self, fn, *args) -> Future:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="wechat")
            future = self._pool.submit(fn, *args)
            self._futures.add(future)
        future.add_done_callback(self._futures.discard)
        return future

    def drain(self, timeout: float = 10.0) -> None:
        """Wait for background turns and pushes (tests, shutdown)."""
        give_up = time.monotonic() + timeout
        while self._futures and time.monotonic() < give_up:
            for future in list(self._futures):
                try:
                    future.exception(timeout=max(0.0, give_up - time.monotonic()))
                except (TimeoutError, CancelledError):
                    pass

    # -- inbound -------------------------------------------------------------------------------------
    def handle(self, msg: Inbound) -> str | None:
        """The passive reply text for a genuine message, or None to answer "success" (nothing, or pushed later)."""
        started = time.monotonic()
        self._purge_old()
        with self.sessions() as db:
            db.add(WeChatInbound(key=msg.dedupe_key, openid=msg.from_user, msg_type=msg.msg_type, status="running",
                                 created_at=utcnow()))
            try:
                db.commit()
            except IntegrityError:
                db.rollback()
                log.info("wechat %s: retry of a message already received", masked(msg.dedupe_key))
                return self._await_first(msg.dedupe_key)
        self._touch_user(msg)
        job = _Job()
        if self._needs_bot(msg):
            self.submit(self._run, msg, job)
            job.done.wait(max(0.0, self.passive_seconds - (time.monotonic() - started)))
        else:
            self._run(msg, job)
        with job.lock:
            if not job.done.is_set():
                job.deferred = True  # the turn finishes in the background and is pushed (see _run)
                log.info("wechat %s: turn slower than %.1f s, answering by push", masked(msg.dedupe_key),
                         self.passive_seconds)
                return None
        reply, session_id = job.result
        pieces = split_text(reply) if reply else []
        with self.sessions() as db:
            row = db.get(WeChatInbound, msg.dedupe_key)
            row.status, row.reply, row.session_id, row.finished_at = "replied", pieces[0] if pieces else None, \
                session_id, utcnow()
            rest = self.outbox.enqueue(db, msg.from_user, session_id, None, "answer", "".join(pieces[1:])) \
                if len(pieces) > 1 else []
            db.commit()
        if rest:
            self.submit(self.outbox.send, rest)
        kind = msg.msg_type if msg.msg_type != "event" else f"event {msg.event}"
        log.info("wechat %s (%s): passive reply in %.2f s, %d more piece(s) pushed", masked(msg.dedupe_key), kind,
                 time.monotonic() - started, len(rest))
        return pieces[0] if pieces else None

    def _purge_old(self) -> None:
        """Now and then forget de-duplication rows older than a day (WeChat retries within 15 seconds)."""
        self._received += 1
        if self._received % 500 != 1:
            return
        with self.sessions() as db:
            db.execute(delete(WeChatInbound).where(WeChatInbound.created_at < utcnow() - timedelta(days=1)))
            db.commit()

    def _await_first(self, key: str) -> str | None:
        """A retry: the first delivery's reply once it is there, or "success" when it is not ready in time."""
        give_up = time.monotonic() + self.passive_seconds
        while True:
            with self.sessions() as db:
                row = db.get(WeChatInbound, key, populate_existing=True)
                if row is not None and row.status != "running":
                    return row.reply if row.status == "replied" else None
            if time.monotonic() >= give_up:
                return None
            time.sleep(0.1)

    def _needs_bot(self, msg: Inbound) -> bool:
        if msg.msg_type == "text" or (msg.msg_type == "voice" and msg.recognition.strip()):
            return True
        return msg.msg_type == "event" and msg.event == "click" and "ask" in self.menu.get(msg.event_key, {})

    def _run(self, msg: Inbound, job: _Job) -> None:
        try:
            job.result = self._respond(msg)
        except Exception:  # noqa: BLE001 - the user gets a polite retry hint; the error is logged
            log.exception("wechat %s: turn failed", masked(msg.dedupe_key))
            job.result = (BUSY, None)
        with job.lock:
            job.done.set()
            deferred = job.deferred
        if deferred:
            self._push_answer(msg, *job.result)

    def _push_answer(self, msg: Inbound, reply: str, session_id: str | None) -> None:
        with self.sessions() as db:
            seq = db.scalar(select(Message.seq).where(Message.session_id == session_id, Message.role == "bot")
                            .order_by(Message.seq.desc()).limit(1)) if session_id else None
            ids = self.outbox.enqueue(db, msg.from_user, session_id, seq, "answer", reply)
            row = db.get(WeChatInbound, msg.dedupe_key)
            row.status, row.session_id, row.finished_at = "pushed", session_id, utcnow()
            db.commit()
        self.outbox.send(ids)

    def _respond(self, msg: Inbound) -> tuple[str, str | None]:
        """(reply text, session id) for one message or event."""
        if msg.msg_type == "event":
            if msg.event in ("subscribe", "unsubscribe"):
                return (self.config.wechat_welcome or WELCOME) if msg.event == "subscribe" else "", None
            if msg.event == "click":
                entry = self.menu.get(msg.event_key)
                if entry is None or "reply" in entry:
                    return (entry or {}).get("reply", UNKNOWN_MENU), None
                return self._ask(msg.from_user, entry["ask"])
            return "", None  # VIEW, SCAN, LOCATION …: nothing to say
        if msg.msg_type == "text":
            return self._ask(msg.from_user, msg.content)
        if msg.msg_type == "voice" and msg.recognition.strip():
            return self._ask(msg.from_user, msg.recognition.strip())
        return ONLY_TEXT, None

    def _ask(self, openid: str, text: str) -> tuple[str, str | None]:
        """One bot turn for the user's latest session (a digit picks a numbered option or rates a closed ticket)."""
        if not self.chat.limiter.allow(f"wechat:{openid}", self.config.rate_limit_session_per_minute):
            return TOO_FAST, None
        with self.sessions() as db:
            user = db.get(WeChatUser, openid)
            options = list(user.suggestions or []) if user is not None else []
        stripped = text.strip()
        if stripped.isdigit() and len(stripped) == 1:
            if self._rate(openid, int(stripped)):
                return RATED, None
            if 1 <= int(stripped) <= len(options):
                text = options[int(stripped) - 1]
        try:
            turn = self.chat.chat(text, channel="wechat", user_ref=openid)
        except ChatInputError as exc:
            return exc.message, None
        reply, options = format_turn(turn)
        with self.sessions() as db:
            user = db.get(WeChatUser, openid)
            if user is not None:
                user.suggestions = options
                db.commit()
        return reply, turn["session_id"]

    def _rate(self, openid: str, value: int) -> bool:
        """A digit 1-5 right after an agent closed the user's ticket is the user's rating of that service."""
        from web.agents import rate

        if not 1 <= value <= 5:
            return False
        with self.sessions() as db:
            chat = db.scalars(select(ChatSession).where(ChatSession.user_ref == openid, ChatSession.channel == "wechat")
                              .order_by(ChatSession.updated_at.desc())).first()
            last = db.scalars(select(Message).where(Message.session_id == chat.id).order_by(Message.seq.desc())
                              .limit(1)).first() if chat else None
            if last is None or last.type != "rating_request":
                return False
            ticket = db.scalars(select(Ticket).where(Ticket.session_id == chat.id, Ticket.status == "closed")
                                .order_by(Ticket.closed_at.desc())).first()
            if ticket is None or ticket.rating is not None:
                return False
            session_id, ticket_id = chat.id, ticket.id
        rate(self.sessions, session_id, ticket_id, value)
        return True

    def _touch_user(self, msg: Inbound) -> None:
        """Record the follower; any message opens the 48 h window and resets the push quota."""
        now = utcnow()
        with self.sessions() as db:
            user = db.get(WeChatUser, msg.from_user)
            if user is None:
                user = WeChatUser(openid=msg.from_user, subscribed=True, pushes_since_inbound=0, suggestions=[])
                db.add(user)
            if msg.msg_type == "event" and msg.event == "unsubscribe":
                user.subscribed, user.unsubscribed_at = False, now
            else:
                if msg.msg_type == "event" and msg.event == "subscribe":
                    user.subscribed_at = now
                user.subscribed, user.last_inbound_at, user.pushes_since_inbound = True, now, 0
            try:
                db.commit()
            except IntegrityError:  # the same user's first two messages at once: the other one recorded it
                db.rollback()

    # -- outbound: agent replies and notices ---------------------------------------------------------
    def deliver(self, ticket: Ticket, chat: ChatSession, message: Message) -> dict:
        """The AgentService deliverer for channel "wechat": push the committed agent reply now."""
        if not chat.user_ref:
            return {"status": "failed", "error": "会话没有微信用户（openid），无法推送"}
        with self.sessions() as db:
            ids = self.outbox.enqueue(db, chat.user_ref, chat.id, message.seq, message.role, message.text)
            db.commit()
        result = self.outbox.send(ids)
        return {**result, **{k: v for k, v in self.outbox.status(chat.id, chat.user_ref).items()
                             if k in ("window_open", "quota_remaining")}}

    def watch_notices(self) -> None:
        """Push system notices of WeChat sessions (agent joined, transferred, please rate) once committed:
        AgentService writes them itself, so they are picked up from the session's flushes."""
        event.listen(self.sessions, "after_flush", self._collect_notices)
        event.listen(self.sessions, "after_commit", self._push_notices)
        event.listen(self.sessions, "after_soft_rollback", lambda s, _t: s.info.pop("wechat_notices", None))

    @staticmethod
    def _collect_notices(session, _context) -> None:
        for obj in session.new:
            if isinstance(obj, Message) and obj.role == "system" and obj.channel == "wechat":
                session.info.setdefault("wechat_notices", []).append(obj)

    def _push_notices(self, session) -> None:
        notices = [(m.session_id, m.seq, m.text) for m in session.info.pop("wechat_notices", [])
                   if inspect(m).persistent]
        if notices:
            self.submit(self._send_notices, notices)

    def _send_notices(self, notices: list[tuple[str, int, str]]) -> None:
        ids: list[int] = []
        with self.sessions() as db:
            for session_id, seq, text in notices:
                chat = db.get(ChatSession, session_id)
                if chat is not None and chat.user_ref:
                    ids += self.outbox.enqueue(db, chat.user_ref, session_id, seq, "notice", text)
            db.commit()
        self.outbox.send(ids)
