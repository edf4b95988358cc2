"""The chat service behind every channel: validate, store, answer, hand off, store again."""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.dialogue import DialogueState
from bot.entities import extract_elements
from bot.engine import AnswerEngine, BotTurn
from hotline.config import Config
from web.db import Agent, ChatSession, Feedback, Message, Ticket, iso, make_engine, migrate, utcnow
from web.ratelimit import RateLimiter

log = logging.getLogger(__name__)
CHANNELS = ("web", "wechat", "cli")


class ChatInputError(ValueError):
    """A request the service refuses, with the contract's error code and HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def validate_message(message: object, limit: int) -> str:
    if not isinstance(message, str):
        raise ChatInputError("invalid_message", f"message 必须是字符串，收到的是 {type(message).__name__}")
    if not message.strip():
        raise ChatInputError("empty_message", "消息内容不能为空")
    if len(message) > limit:
        raise ChatInputError("message_too_long", f"消息过长：{len(message)} 个字符，上限为 {limit} 个字符", 413)
    return message


@dataclass
class ChatService:
    """One per process; the database is the only state shared between workers."""

    config: Config
    engine: AnswerEngine
    sessions: sessionmaker

    def __post_init__(self) -> None:
        self.limiter = RateLimiter(self.sessions)

    def check_rate(self, client_ip: str | None, session_id: object) -> None:
        """Raise a 429 ChatInputError when this client or session sends too much, counted across workers."""
        if client_ip and not self.limiter.allow(f"ip:{client_ip}", self.config.rate_limit_ip_per_minute):
            raise ChatInputError("rate_limited", "请求过于频繁，请稍后再试", 429)
        if isinstance(session_id, str) and session_id and not self.limiter.allow(
                f"session:{session_id}", self.config.rate_limit_session_per_minute):
            raise ChatInputError("rate_limited", "发送过于频繁，请稍等一分钟后再发送", 429)

    def _open_session(self, db: Session, session_id: object, channel: str, user_ref: str | None = None) -> ChatSession:
        if session_id is not None and not isinstance(session_id, str):
            raise ChatInputError("invalid_session_id", "session_id 必须是字符串或 null")
        chat = db.get(ChatSession, session_id) if session_id and len(session_id) <= 64 else None
        if chat is None and user_ref:  # a channel user (WeChat openid) keeps their latest session
            chat = db.scalars(select(ChatSession).where(ChatSession.user_ref == user_ref, ChatSession.channel == channel)
                              .order_by(ChatSession.updated_at.desc())).first()
        if chat is None:  # an unknown or missing id starts a new session
            chat = ChatSession(id=uuid.uuid4().hex, channel=channel, user_ref=user_ref, state={}, elements={})
            db.add(chat)
            db.flush()
        return chat

    def _store(self, db: Session, chat: ChatSession, role: str, text: str, turn: BotTurn | None = None) -> Message:
        fields: dict = {"district": (chat.elements or {}).get("district")}
        if turn:
            fields.update(type=turn.type, reason=turn.reason, confidence=turn.confidence, sources=turn.sources,
                          line=turn.line, item=turn.item, kb_id=turn.sources[0]["id"] if turn.sources else None)
        return append_message(db, chat, role, text, **fields)

    def _create_ticket(self, db: Session, chat: ChatSession, turn: BotTurn, text: str) -> Ticket:
        from web.agents import suggest_department

        elements = dict(chat.elements or {})
        district = elements.get("district")
        line = turn.line or (elements.get("scenario") or "").split("/")[0] or None
        ticket = Ticket(id=f"T{utcnow():%Y%m%d}{uuid.uuid4().hex[:8].upper()}", session_id=chat.id,
                        channel=chat.channel, queue=turn.queue or "综合", reason=turn.reason,
                        summary=summarize(db, chat, text), elements=elements, form={}, line=line, district=district,
                        department=suggest_department(line, district),
                        transcript_seq=db.scalar(select(func.max(Message.seq)).where(
                            Message.session_id == chat.id)) or 0)
        db.add(ticket)
        chat.status = "handoff"
        return ticket

    def _queue_notice(self, db: Session, ticket: Ticket) -> str:
        """What the user can expect: their place in the queue and the configured notice."""
        db.flush()
        ahead = db.scalar(select(func.count()).select_from(Ticket).where(
            Ticket.queue == ticket.queue, Ticket.status == "waiting", Ticket.id != ticket.id,
            Ticket.created_at <= ticket.created_at)) or 0
        if not agents_on_duty(self.config, utcnow()):
            return f"工单号 {ticket.id}。" + self.config.offhours_notice.format(hours=duty_hours_text(self.config))
        place = f"您前面还有{ahead}位用户在等待。" if ahead else "您是当前第一位等待的用户。"
        return f"工单号 {ticket.id}。{place}{self.config.handoff_notice}"

    def _open_ticket(self, db: Session, chat: ChatSession) -> Ticket | None:
        return db.scalar(select(Ticket).where(Ticket.session_id == chat.id, Ticket.status != "closed")
                         .order_by(Ticket.created_at.desc()))

    def chat(self, message: object, session_id: object = None, channel: str = "web", user_ref: str | None = None) -> dict:
        """One turn; the user's message is committed before the bot answers it. `user_ref` (a WeChat openid)
        finds that user's session when no session id is given."""
        text = validate_message(message, self.config.max_message_chars)
        if channel not in CHANNELS:
            raise ChatInputError("invalid_channel", f"未知渠道 {channel!r}，可选：{'、'.join(CHANNELS)}")
        with self.sessions() as db:
            chat = self._open_session(db, session_id, channel, user_ref)
            self._store(db, chat, "user", text)
            chat.elements = {**(chat.elements or {}), **extract_elements(text)}
            chat.updated_at = utcnow()
            db.commit()
            ticket = self._open_ticket(db, chat) if chat.status == "handoff" else None
            if ticket is not None:
                turn = BotTurn("handoff", "您的会话已转人工客服，坐席会尽快回复您，请稍候。", "awaiting_agent", 1.0,
                               queue=ticket.queue)
            else:
                chat.status = "bot"
                turn = self.engine.respond(text, DialogueState.from_json(chat.state), utcnow())
                chat.state = turn.state.to_json()
                if turn.item:
                    chat.elements = {**chat.elements, "scenario": f"{turn.line}/{turn.item}"}
                if turn.type == "handoff":
                    ticket = self._create_ticket(db, chat, turn, text)
                    turn = replace(turn, reply=f"{turn.reply}{self._queue_notice(db, ticket)}")
            self._store(db, chat, "bot", turn.reply, turn)
            db.commit()
            return {
                "session_id": chat.id, "type": turn.type, "reply": turn.reply, "sources": turn.sources,
                "suggestions": turn.suggestions,
                "handoff": {"ticket_id": ticket.id, "queue": ticket.queue, "reason": ticket.reason} if ticket else None,
                "confidence": round(float(turn.confidence), 4),
            }


    def close(self) -> None:
        """Release the database connections (tests and short-lived commands)."""
        self.sessions.kw["bind"].dispose()

    def messages(self, session_id: str, after: int = 0) -> dict:
        """Messages of a session after sequence number `after` (how agent replies reach the widget), with the
        state of its human service: status bot | waiting | assigned, the agent's name, a closed ticket to rate."""
        with self.sessions() as db:
            chat = db.get(ChatSession, session_id)
            if chat is None:
                raise ChatInputError("unknown_session", f"会话 {session_id} 不存在", 404)
            rows = db.scalars(select(Message).where(Message.session_id == session_id, Message.seq > after)
                              .order_by(Message.seq).limit(500)).all()
            ticket = db.scalars(select(Ticket).where(Ticket.session_id == session_id)
                                .order_by(Ticket.created_at.desc())).first()
            agent = db.get(Agent, ticket.agent_id) if ticket is not None and ticket.agent_id else None
            return {
                "session_id": session_id,
                "status": ticket.status if ticket is not None and ticket.status != "closed" else "bot",
                "agent": agent.display_name if agent is not None and ticket.status == "assigned" else None,
                "ticket": None if ticket is None else {"id": ticket.id, "queue": ticket.queue, "status": ticket.status,
                                                       "rated": ticket.rating is not None},
                "messages": [message_json(m) for m in rows],
            }

    def feedback(self, session_id: object, message_seq: object, value: object, comment: object = "") -> None:
        """Thumbs up (1) or down (-1) on a bot message."""
        if value not in (1, -1) or isinstance(value, bool):
            raise ChatInputError("invalid_feedback", "value 只能是 1（有用）或 -1（没用）")
        if not isinstance(comment, str) or len(comment) > 500:
            raise ChatInputError("invalid_feedback", "comment 必须是不超过500字的字符串")
        with self.sessions() as db:
            if not isinstance(session_id, str) or db.get(ChatSession, session_id) is None:
                raise ChatInputError("unknown_session", "会话不存在", 404)
            if not isinstance(message_seq, int) or isinstance(message_seq, bool) or db.scalar(
                    select(Message.id).where(Message.session_id == session_id, Message.seq == message_seq,
                                             Message.role == "bot")) is None:
                raise ChatInputError("unknown_message", "message_seq 必须是该会话中一条机器人回复的序号", 404)
            db.add(Feedback(session_id=session_id, message_seq=message_seq, value=value, comment=comment))
            db.commit()


def message_json(m: Message) -> dict:
    """A stored message as the widget, the console and the WeChat channel see it."""
    return {"seq": m.seq, "role": m.role, "text": m.text, "type": m.type, "sources": m.sources or [],
            "created_at": iso(m.created_at)}


BEIJING = timezone(timedelta(hours=8))
WEEKDAYS = "一二三四五六日"


def agents_on_duty(config: Config, now: datetime) -> bool:
    """Whether agents work at this moment (Beijing time), from the configured days and hours."""
    if not config.agent_hours:
        return True
    local = now.astimezone(BEIJING)
    start, end = config.agent_hours.split("-")
    return str(local.isoweekday()) in config.agent_days and start <= f"{local:%H:%M}" < end


def duty_hours_text(config: Config) -> str:
    days = sorted(d for d in config.agent_days if d in "1234567")
    if not days:
        return "另行通知"
    span = f"周{WEEKDAYS[int(days[0]) - 1]}至周{WEEKDAYS[int(days[-1]) - 1]}" if len(days) > 1 else f"周{WEEKDAYS[int(days[0]) - 1]}"
    return f"{span} {config.agent_hours.replace('-', '至')}"


def append_message(db: Session, chat: ChatSession, role: str, text: str, **fields) -> Message:
    """Add the session's next message; two writers racing for the same seq (a user turn and an agent reply)
    retry inside a savepoint instead of failing."""
    for attempt in range(5):
        seq = (db.scalar(select(func.max(Message.seq)).where(Message.session_id == chat.id)) or 0) + 1
        msg = Message(session_id=chat.id, seq=seq, role=role, text=text, channel=chat.channel, created_at=utcnow(),
                      **{"sources": [], **fields})
        try:
            with db.begin_nested():
                db.add(msg)
            chat.updated_at = msg.created_at
            return msg
        except IntegrityError:
            if attempt == 4:
                raise
    raise AssertionError("unreachable")


def summarize(db: Session, chat: ChatSession, text: str) -> str:
    """One line for the queue: for a bare request for a person, the user's last real question."""
    from bot.intents import classify
    from indexer.text import normalize

    if classify(normalize(text)).name == "handoff":
        previous = db.scalars(select(Message.text).where(Message.session_id == chat.id, Message.role == "user")
                              .order_by(Message.seq.desc()).limit(6)).all()
        question = next((t for t in previous if t != text and len(t) >= 4
                         and classify(normalize(t)).name not in ("handoff", "greeting", "thanks", "goodbye")), None)
        if question:
            return f"{question}（用户要求转人工）"[:120]
    return text[:120]


def open_chat_service(config: Config, runtime=None) -> ChatService:
    """Load the runtime (index, models) and connect to the database."""
    from bot.runtime import load_runtime

    runtime = runtime or load_runtime(config)
    engine = make_engine(config.db_url)
    migrate(engine)
    return ChatService(config, runtime.engine, sessionmaker(engine, expire_on_commit=False))
