"""One bot turn: intent, follow-up reading, retrieval, decision and the reply text."""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from bot.decide import Decision, Thresholds, confidence, decide
from bot.dialogue import DialogueState, read_message
from bot.entities import find_lines, mask_personal_data
from bot.intents import CHITCHAT_REPLIES, classify
from bot.retrieve import Candidate, HybridRetriever
from indexer.snapshot import Unit
from indexer.text import normalize
from kb.model import queue_for_line

log = logging.getLogger(__name__)
MAX_QUERY_CHARS = 300  # retrieval reads the start of a long message; the full text is still stored
_HAS_TEXT = re.compile(r"[\w\u4e00-\u9fff]")
_REGISTRATION_WORDS = ("执照", "注册", "注销", "年报", "市场监管", "登记")
HANDOFF_REASONS = {"handoff": "user_request", "complaint": "complaint", "wrong_answer": "repeated_failure"}


@dataclass(frozen=True)
class BotTurn:
    """The engine's answer to one message, before the service adds session and ticket."""

    type: str  # answer | clarify | fallback | handoff | chitchat
    reply: str
    reason: str
    confidence: float = 0.0
    sources: list[dict] = field(default_factory=list)
    suggestions: list[str] = field(default_factory=list)
    queue: str | None = None  # for a handoff
    line: str | None = None
    item: str | None = None
    query: str = ""
    state: DialogueState = field(default_factory=DialogueState)


def source_of(candidate: Candidate, t: Thresholds) -> dict:
    unit = candidate.unit
    return {"id": unit.id, "title": unit.title, "score": round(confidence(candidate, t), 4),
            "legal_basis": unit.legal_basis}


def format_answer(unit: Unit) -> str:
    """The answer with its legal basis and channel, keeping the answer's own line structure."""
    parts = [unit.text.strip()]
    if unit.kp:
        if unit.kp.legal_basis:
            parts.append(f"【政策依据】{unit.kp.legal_basis}")
        if unit.kp.channel:
            parts.append(f"【办理渠道】{unit.kp.channel}")
        if unit.kp.department:
            parts.append(f"【主管部门】{unit.kp.department}")
    else:
        doc = unit.doc or {}
        origin = f"，解读对象：{doc['origin']}" if doc.get("origin") else ""
        parts.append(f"【出处】《{doc.get('title', unit.title)}》（{doc.get('issuer', '')}{origin}）")
    return "\n\n".join(parts)


def line_from_words(text: str) -> str | None:
    """The business line a complaint or request names, for choosing the agent queue."""
    lines = find_lines(text)
    if lines:
        return sorted(lines)[0] if len(lines) == 1 else None
    return "商事登记" if any(w in text for w in _REGISTRATION_WORDS) else None


class AnswerEngine:
    """Pure decision logic over a retriever; session storage and tickets belong to the caller."""

    def __init__(self, retriever: HybridRetriever, thresholds: Thresholds, idle_minutes: int = 30):
        self.retriever = retriever
        self.t = thresholds
        self.idle = timedelta(minutes=idle_minutes)

    def respond(self, message: str, state: DialogueState, now: datetime) -> BotTurn:
        text = normalize(message)[:MAX_QUERY_CHARS]
        if state.expired(now, self.idle):
            state = DialogueState()
        turn = self._respond(text, state)
        new_state = replace(turn.state, updated_at=now.isoformat())
        log.info("decision type=%s reason=%s confidence=%.3f query=%r sources=%s", turn.type, turn.reason,
                 turn.confidence, mask_personal_data(turn.query[:80]), [s["id"] for s in turn.sources])
        return replace(turn, state=new_state)

    def _respond(self, text: str, state: DialogueState) -> BotTurn:
        intent = classify(text)
        if intent.name in HANDOFF_REASONS:
            reason = HANDOFF_REASONS[intent.name]
            if reason == "user_request" and state.fallbacks_in_row:  # took the offer after a fallback
                reason = "low_confidence"
            return self._handoff(text, state, reason)
        if intent.name in CHITCHAT_REPLIES:
            return BotTurn("chitchat", CHITCHAT_REPLIES[intent.name], f"chitchat_{intent.name}", 1.0,
                           state=replace(state, options={}), query=text)
        if not _HAS_TEXT.search(text):
            return BotTurn("fallback", "抱歉，我没能看懂这条消息。请用文字描述您要咨询的企业办事问题，例如“个体户怎么注销”。",
                           "no_text", 0.0, suggestions=["转人工"], state=state, query=text)
        reading = read_message(text, state)
        unit = self.retriever.snapshot_unit(reading.option_id) if reading.option_id else None
        if unit is not None:
            chosen = Candidate(unit, 1.0, 1.0, 1.0, ("clarify_choice",))
            return self._answer(Decision("answer", "clarify_choice", 1.0, (chosen,)), [chosen], unit.title, state, reading)
        candidates = self.retriever.search(reading.as_query(), k=10)
        decision = decide(candidates, self.t)
        if decision.type == "answer":
            return self._answer(decision, candidates, reading.query, state, reading)
        if decision.type == "clarify":
            titles = [c.unit.title for c in decision.chosen]
            options = {normalize(c.unit.title): c.unit.id for c in decision.chosen}
            return BotTurn(
                "clarify", "您想咨询的是下面哪一个问题？请点选或回复对应的问题：\n" +
                "\n".join(f"{i}. {title}" for i, title in enumerate(titles, 1)),
                decision.reason, decision.confidence, [source_of(c, self.t) for c in decision.chosen],
                titles, query=reading.query,
                state=replace(state, options=options, entity=reading.entity, district=reading.district,
                              last_query=reading.query if not reading.follow_up else state.last_query or reading.query))
        fallbacks = state.fallbacks_in_row + 1
        if fallbacks >= 2:
            return self._handoff(text, replace(state, fallbacks_in_row=0), "repeated_failure")
        return BotTurn(
            "fallback", "抱歉，知识库里暂时没有能准确回答这个问题的内容，我不想给您不准确的信息。"
            "您可以换个说法再问一次，或输入“转人工”由人工客服为您解答；也可拨打12345热线。",
            decision.reason, decision.confidence, suggestions=["转人工"], query=reading.query,
            state=replace(state, fallbacks_in_row=fallbacks, options={}))

    def _answer(self, decision: Decision, candidates: list[Candidate], query: str, state: DialogueState, reading) -> BotTurn:
        top = decision.chosen[0]
        related = [c.unit.title for c in candidates if c.unit.id != top.unit.id and c.unit.kind == "kp"
                   and confidence(c, self.t) >= self.t.fallback][:3]
        kp = top.unit.kp
        new_state = replace(state, last_query=query, last_kp=top.unit.id,
                            last_item=kp.item if kp else state.last_item, entity=reading.entity,
                            district=reading.district, options={}, fallbacks_in_row=0)
        return BotTurn("answer", format_answer(top.unit), decision.reason, decision.confidence,
                       [source_of(top, self.t)], related, line=top.unit.line, item=kp.item if kp else None,
                       query=query, state=new_state)

    def _handoff(self, text: str, state: DialogueState, reason: str) -> BotTurn:
        line = line_from_words(text)
        if line is None and state.last_kp:
            unit = self.retriever.snapshot_unit(state.last_kp)
            line = unit.line if unit else None
        queue = queue_for_line(line) if line else "综合"
        label = {"user_request": "正在为您转接人工客服", "complaint": "您的投诉/反映已记录，正在转交人工客服处理",
                 "repeated_failure": "很抱歉没能帮到您，正在为您转接人工客服",
                 "low_confidence": "好的，正在为您转接人工客服"}[reason]
        return BotTurn("handoff", f"{label}（{queue}坐席）。", reason, 1.0, suggestions=[], queue=queue, line=line,
                       query=text, state=replace(state, options={}, fallbacks_in_row=0))
