"""Human agents: accounts, bearer tokens, and working tickets (claim, read, reply, edit, close, rate)."""
from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Callable

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.security import check_password_hash, generate_password_hash

from bot.entities import credit_code_valid, district_of_place, mask_personal_data
from kb.model import DISTRICTS, LINES, QUEUES
from web.db import Agent, AgentToken, ChatSession, Message, Ticket, aware, iso, utcnow
from web.service import ChatInputError, append_message, message_json

log = logging.getLogger(__name__)
ROLES = ("agent", "supervisor", "editor")
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.\-\u4e00-\u9fff]{2,64}$")
PHONE_RE = re.compile(r"^(?:1[3-9]\d{9}|0\d{2,3}-?\d{7,8}|\d{7,8}|12345|1\d{4})$")
MAX_REPLY_CHARS = 2000
# The work order an agent edits: field → (max length, normaliser)
FORM_FIELDS = ("scenario", "company", "credit_code", "district", "address", "phone", "summary", "department")
DEPARTMENTS = {  # who handles each business line; a district narrows it where the district has its own office
    "商事登记": "{d}区市场监督管理局",
    "税务": "国家税务总局广州市{d}区税务局",
    "社保": "{d}区人力资源和社会保障局（社会保险）",
    "公积金": "广州住房公积金管理中心",
    "不动产": "广州市规划和自然资源局（不动产登记）",
}
CITY_DEPARTMENTS = {"商事登记": "广州市市场监督管理局", "税务": "国家税务总局广州市税务局",
                    "社保": "广州市社会保险基金管理中心", "公积金": "广州住房公积金管理中心",
                    "不动产": "广州市规划和自然资源局（不动产登记）"}


def suggest_department(line: str | None, district: str | None) -> str | None:
    """The handling department for a scenario's business line, in the user's district when known."""
    if not line or line not in DEPARTMENTS:
        return None
    return DEPARTMENTS[line].format(d=district) if district else CITY_DEPARTMENTS[line]


@dataclass(frozen=True)
class AgentInfo:
    id: int
    username: str
    display_name: str
    role: str
    queues: tuple[str, ...]

    def can_work(self, queue: str) -> bool:
        return self.role == "supervisor" or queue in self.queues

    def as_json(self) -> dict:
        return {"id": self.id, "username": self.username, "display_name": self.display_name, "role": self.role,
                "queues": list(QUEUES) if self.role == "supervisor" else list(self.queues)}


def _info(agent: Agent) -> AgentInfo:
    return AgentInfo(agent.id, agent.username, agent.display_name or agent.username, agent.role, tuple(agent.queues or ()))


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# Delivery of an agent's reply to a channel that cannot poll (WeChat pushes); web widgets poll messages.
Deliverer = Callable[[Ticket, ChatSession, Message], dict]


@dataclass
class AgentService:
    sessions: sessionmaker
    token_hours: int = 12
    deliverers: dict[str, Deliverer] = field(default_factory=dict)

    # -- accounts ---------------------------------------------------------------------------------------
    def add_agent(self, username: str, password: str, queues: list[str] | tuple[str, ...], role: str = "agent",
                  display_name: str = "") -> AgentInfo:
        if not USERNAME_RE.match(username or ""):
            raise ChatInputError("invalid_username", "用户名须为2-64位字母、数字、汉字或 _ . -")
        if role not in ROLES:
            raise ChatInputError("invalid_role", f"未知角色 {role!r}，可选：{'、'.join(ROLES)}")
        if not isinstance(password, str) or len(password) < 8:
            raise ChatInputError("weak_password", "密码至少8位")
        unknown = [q for q in queues if q not in QUEUES]
        if unknown:
            raise ChatInputError("invalid_queue", f"未知队列 {'、'.join(unknown)}，可选：{'、'.join(QUEUES)}")
        if role == "agent" and not queues:
            raise ChatInputError("invalid_queue", f"坐席至少要负责一个队列：{'、'.join(QUEUES)}")
        with self.sessions() as db:
            agent = Agent(username=username, display_name=display_name or username, role=role, queues=list(queues),
                          password_hash=generate_password_hash(password), active=True)
            db.add(agent)
            try:
                db.commit()
            except IntegrityError:
                raise ChatInputError("username_taken", f"用户名 {username} 已存在", 409) from None
            return _info(agent)

    def count_agents(self) -> int:
        with self.sessions() as db:
            return db.scalar(select(func.count()).select_from(Agent)) or 0

    def login(self, username: object, password: object) -> tuple[str, AgentInfo]:
        """A new bearer token for a correct username and password (the same error for either mistake)."""
        with self.sessions() as db:
            agent = db.scalar(select(Agent).where(Agent.username == username)) if isinstance(username, str) else None
            ok = agent is not None and agent.active and isinstance(password, str) and check_password_hash(
                agent.password_hash, password)
            if not ok:
                raise ChatInputError("bad_credentials", "用户名或密码错误", 401)
            token = secrets.token_urlsafe(32)
            now = utcnow()
            db.add(AgentToken(token_hash=_token_hash(token), agent_id=agent.id, created_at=now,
                              expires_at=now + timedelta(hours=self.token_hours)))
            db.execute(AgentToken.__table__.delete().where(AgentToken.expires_at < now))
            db.commit()
            return token, _info(agent)

    def logout(self, token: str) -> None:
        with self.sessions() as db:
            db.execute(AgentToken.__table__.delete().where(AgentToken.token_hash == _token_hash(token)))
            db.commit()

    def authenticate(self, token: str | None) -> AgentInfo:
        if not token:
            raise ChatInputError("unauthorized", "请先登录坐席账号", 401)
        with self.sessions() as db:
            row = db.get(AgentToken, _token_hash(token))
            if row is None or aware(row.expires_at) < utcnow():
                raise ChatInputError("unauthorized", "登录已过期，请重新登录", 401)
            agent = db.get(Agent, row.agent_id)
            if agent is None or not agent.active:
                raise ChatInputError("unauthorized", "账号已停用", 401)
            return _info(agent)

    # -- tickets ----------------------------------------------------------------------------------------
    def _ticket(self, db: Session, agent: AgentInfo, ticket_id: object) -> Ticket:
        ticket = db.get(Ticket, ticket_id) if isinstance(ticket_id, str) else None
        if ticket is None:
            raise ChatInputError("unknown_ticket", f"工单 {ticket_id} 不存在", 404)
        if not agent.can_work(ticket.queue):
            raise ChatInputError("forbidden", f"您没有处理“{ticket.queue}”队列工单的权限", 403)
        return ticket

    def _owned(self, db: Session, agent: AgentInfo, ticket_id: object) -> Ticket:
        ticket = self._ticket(db, agent, ticket_id)
        if ticket.status == "closed":
            raise ChatInputError("ticket_closed", "工单已结束", 409)
        if ticket.status != "assigned" or (ticket.agent_id != agent.id and agent.role != "supervisor"):
            raise ChatInputError("not_your_ticket", "请先认领该工单", 409)
        return ticket

    def ticket_summary(self, t: Ticket, agent_names: dict[int, str] | None = None) -> dict:
        now = utcnow()
        start = aware(t.created_at)
        waited = (aware(t.assigned_at) if t.assigned_at else now) - start
        return {"id": t.id, "session_id": t.session_id, "channel": t.channel, "queue": t.queue, "reason": t.reason,
                "status": t.status, "summary": t.summary, "line": t.line, "district": t.district,
                "agent_id": t.agent_id, "agent": (agent_names or {}).get(t.agent_id) if t.agent_id else None,
                "waiting_seconds": int(waited.total_seconds()), "created_at": iso(t.created_at),
                "assigned_at": iso(t.assigned_at), "first_reply_at": iso(t.first_reply_at),
                "closed_at": iso(t.closed_at), "rating": t.rating}

    def list_tickets(self, agent: AgentInfo, queue: str | None = None, status: str | None = "waiting",
                     limit: int = 200) -> list[dict]:
        """Tickets of the agent's queues (all for a supervisor), oldest waiting first."""
        if queue is not None and queue not in QUEUES:
            raise ChatInputError("invalid_queue", f"未知队列 {queue!r}，可选：{'、'.join(QUEUES)}")
        if queue is not None and not agent.can_work(queue):
            raise ChatInputError("forbidden", f"您没有查看“{queue}”队列的权限", 403)
        statuses = {"waiting": ("waiting",), "assigned": ("assigned",), "closed": ("closed",), "open":
                    ("waiting", "assigned"), "mine": ("assigned",), None: ("waiting", "assigned", "closed")}
        if status not in statuses:
            raise ChatInputError("invalid_status", "status 可选：waiting、assigned、open、mine、closed")
        queues = [queue] if queue else (list(QUEUES) if agent.role == "supervisor" else list(agent.queues))
        with self.sessions() as db:
            q = select(Ticket).where(Ticket.queue.in_(queues), Ticket.status.in_(statuses[status]))
            if status == "mine":
                q = q.where(Ticket.agent_id == agent.id)
            order = Ticket.closed_at.desc() if status == "closed" else Ticket.created_at
            rows = db.scalars(q.order_by(order).limit(limit)).all()
            names = dict(db.execute(select(Agent.id, Agent.display_name)).all())
            return [self.ticket_summary(t, names) for t in rows]

    def claim(self, agent: AgentInfo, ticket_id: object) -> dict:
        """Take a waiting ticket; of several agents claiming at once exactly one wins (a conditional UPDATE)."""
        with self.sessions() as db:
            ticket = self._ticket(db, agent, ticket_id)
            now = utcnow()
            won = db.execute(update(Ticket).where(Ticket.id == ticket.id, Ticket.status == "waiting")
                             .values(status="assigned", agent_id=agent.id, assigned_at=now)
                             .execution_options(synchronize_session=False)).rowcount == 1
            if not won:
                db.rollback()
                raise ChatInputError("already_claimed", "该工单已被其他坐席认领或已结束", 409)
            chat = db.get(ChatSession, ticket.session_id)
            self._system(db, chat, f"人工客服{agent.display_name}已接入，正在查看您的问题。")
            db.commit()
            log.info("ticket %s claimed by agent %s", ticket.id, agent.id)
        return self.ticket(agent, ticket_id)

    def ticket(self, agent: AgentInfo, ticket_id: object) -> dict:
        """The ticket with its work order, the extracted elements and the whole conversation."""
        with self.sessions() as db:
            t = self._ticket(db, agent, ticket_id)
            chat = db.get(ChatSession, t.session_id)
            transcript = db.scalars(select(Message).where(Message.session_id == t.session_id)
                                    .order_by(Message.seq)).all()
            names = dict(db.execute(select(Agent.id, Agent.display_name)).all())
            body = self.ticket_summary(t, names)
            elements = dict(t.elements or {})
            elements.update({k: v for k, v in (chat.elements or {}).items() if k not in elements})
            form = default_form(t, elements)
            form.update(t.form or {})
            body.update({"elements": elements, "form": form, "resolution": t.resolution,
                         "rating_comment": t.rating_comment, "transcript_seq": t.transcript_seq,
                         "department": t.department or form.get("department"),
                         "user_ref": chat.user_ref, "messages": [message_json(m) for m in transcript]})
            return body

    def reply(self, agent: AgentInfo, ticket_id: object, text: object) -> dict:
        """Store the agent's reply (committed first), then hand it to the channel's deliverer if it has one."""
        if not isinstance(text, str) or not text.strip():
            raise ChatInputError("empty_message", "回复内容不能为空")
        if len(text) > MAX_REPLY_CHARS:
            raise ChatInputError("message_too_long", f"回复过长：上限 {MAX_REPLY_CHARS} 字", 413)
        with self.sessions() as db:
            ticket = self._owned(db, agent, ticket_id)
            chat = db.get(ChatSession, ticket.session_id)
            msg = append_message(db, chat, "agent", text, agent_id=agent.id)
            if ticket.first_reply_at is None:
                ticket.first_reply_at = msg.created_at
            db.commit()
            delivery = {"channel": ticket.channel, "status": "stored"}
            deliver = self.deliverers.get(ticket.channel)
            if deliver is not None:
                try:
                    delivery = {"channel": ticket.channel, **deliver(ticket, chat, msg)}
                except Exception as exc:  # noqa: BLE001 - the reply is stored; the failure is reported, not lost
                    log.exception("delivery of ticket %s reply %s failed", ticket.id, msg.seq)
                    delivery = {"channel": ticket.channel, "status": "failed", "error": type(exc).__name__}
            return {"message": message_json(msg), "delivery": delivery}

    def update_form(self, agent: AgentInfo, ticket_id: object, fields: object) -> dict:
        """Edit the work order; a changed queue transfers the ticket back to waiting in that queue."""
        if not isinstance(fields, dict) or not fields:
            raise ChatInputError("invalid_form", "请求体须为包含工单字段的 JSON 对象")
        unknown = set(fields) - set(FORM_FIELDS) - {"queue"}
        if unknown:
            raise ChatInputError("invalid_form", f"未知字段 {'、'.join(sorted(unknown))}；可编辑：{'、'.join(FORM_FIELDS)}、queue")
        clean = validate_form(fields)
        with self.sessions() as db:
            ticket = self._ticket(db, agent, ticket_id)
            if ticket.status == "closed":
                raise ChatInputError("ticket_closed", "工单已结束，不能再修改", 409)
            if ticket.status == "assigned" and ticket.agent_id != agent.id and agent.role != "supervisor":
                raise ChatInputError("not_your_ticket", "该工单由其他坐席处理", 409)
            queue = clean.pop("queue", None)
            ticket.form = {**(ticket.form or {}), **clean}
            if "district" in clean:
                ticket.district = clean["district"] or None
            if "department" in clean:
                ticket.department = clean["department"] or None
            if "summary" in clean and clean["summary"]:
                ticket.summary = clean["summary"]
            if queue and queue != ticket.queue:
                ticket.queue, ticket.status, ticket.agent_id, ticket.assigned_at = queue, "waiting", None, None
                chat = db.get(ChatSession, ticket.session_id)
                self._system(db, chat, f"您的问题已转交“{queue}”坐席，请稍候。")
            db.commit()
        return self.ticket(agent, ticket_id) if not queue or agent.can_work(queue) else {"id": ticket_id, "queue": queue}

    def close(self, agent: AgentInfo, ticket_id: object, resolution: object) -> dict:
        """End the ticket with a resolution; the bot answers the session again and the user is asked to rate."""
        if not isinstance(resolution, str) or not resolution.strip():
            raise ChatInputError("missing_resolution", "请填写处理结果（resolution）")
        if len(resolution) > 2000:
            raise ChatInputError("invalid_resolution", "处理结果不超过2000字", 413)
        with self.sessions() as db:
            ticket = self._owned(db, agent, ticket_id)
            ticket.status, ticket.resolution, ticket.closed_at = "closed", resolution.strip(), utcnow()
            chat = db.get(ChatSession, ticket.session_id)
            chat.status = "bot"
            self._system(db, chat, "本次人工服务已结束，感谢您的耐心。请为本次服务打分（1-5分）；如还有问题，可以继续向智能助手提问。",
                         type_="rating_request")
            db.commit()
            log.info("ticket %s closed by agent %s", ticket.id, agent.id)
        return self.ticket(agent, ticket_id)

    def _system(self, db: Session, chat: ChatSession, text: str, type_: str = "notice") -> Message:
        return append_message(db, chat, "system", text, type=type_)


def rate(sessions: sessionmaker, session_id: object, ticket_id: object, rating: object, comment: object = "") -> None:
    """The user's 1-5 rating of a closed ticket of their own session, once."""
    if not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= 5:
        raise ChatInputError("invalid_rating", "rating 须为 1 到 5 的整数")
    if not isinstance(comment, str) or len(comment) > 500:
        raise ChatInputError("invalid_rating", "comment 须为不超过500字的字符串")
    with sessions() as db:
        q = select(Ticket).where(Ticket.session_id == session_id, Ticket.status == "closed")
        if ticket_id is not None:
            q = q.where(Ticket.id == ticket_id)
        ticket = db.scalars(q.order_by(Ticket.closed_at.desc())).first() if isinstance(session_id, str) else None
        if ticket is None:
            raise ChatInputError("nothing_to_rate", "该会话没有已结束的人工服务可评价", 404)
        if ticket.rating is not None:
            raise ChatInputError("already_rated", "您已经评价过本次服务", 409)
        ticket.rating, ticket.rating_comment = rating, comment.strip() or None
        db.commit()


def default_form(ticket: Ticket, elements: dict) -> dict:
    """The work order pre-filled from what the conversation revealed."""
    scenario = elements.get("scenario") or (ticket.line or "")
    district = ticket.district or elements.get("district")
    return {"scenario": scenario, "company": elements.get("company", ""),
            "credit_code": elements.get("credit_code", ""), "credit_code_valid": elements.get("credit_code_valid"),
            "district": district or "", "address": elements.get("address", ""), "phone": elements.get("phone", ""),
            "summary": ticket.summary, "department": ticket.department or suggest_department(ticket.line, district) or ""}


def validate_form(fields: dict) -> dict:
    """Each edited field checked: the district is one of the 11, the code passes its check digit, …"""
    clean: dict = {}
    for name, value in fields.items():
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise ChatInputError("invalid_form", f"字段 {name} 必须是字符串")
        value = value.strip()
        if len(value) > (500 if name == "summary" else 120):
            raise ChatInputError("invalid_form", f"字段 {name} 过长")
        if name == "district" and value:
            district = district_of_place(value)
            if district is None or district not in DISTRICTS:
                raise ChatInputError("invalid_form", f"未知区 {value!r}；可选：{'、'.join(DISTRICTS)}")
            value = district
        if name == "credit_code" and value:
            value = value.upper()
            if not credit_code_valid(value):
                raise ChatInputError("invalid_form", f"统一社会信用代码 {value} 校验位不正确（GB 32100-2015）")
        if name == "phone" and value and not PHONE_RE.match(value.replace(" ", "")):
            raise ChatInputError("invalid_form", f"电话号码 {mask_personal_data(value)} 格式不正确")
        if name == "queue" and value not in QUEUES:
            raise ChatInputError("invalid_queue", f"未知队列 {value!r}，可选：{'、'.join(QUEUES)}")
        if name == "scenario" and value and value.split("/")[0] not in LINES:
            raise ChatInputError("invalid_form", f"业务场景须以业务线开头（{'、'.join(LINES)}），例如 商事登记/注销登记")
        clean[name] = value
    return clean
