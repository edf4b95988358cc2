"""Conversation state between turns and how a follow-up is read against the previous turn."""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone

from bot.entities import ENTITY_WORDS, find_district, find_entity, find_lines
from bot.retrieve import Query

_FOLLOW_UP_HEAD = re.compile(r"^(那|那么|那如果|如果是|如果|还有|另外|换成|要是|假如)")
_FOLLOW_UP_TAIL = re.compile(r"(呢|的呢|怎么样|咋样|行吗|可以吗)[？?。！!\s]*$")
FOLLOW_UP_MAX_CHARS = 14


@dataclass
class DialogueState:
    """What the bot remembers of a session; stored as JSON with the session."""

    last_query: str = ""
    last_item: str = ""
    last_kp: str = ""
    entity: str | None = None
    district: str | None = None
    options: dict[str, str] = field(default_factory=dict)  # normalised clarify option text → knowledge point id
    fallbacks_in_row: int = 0
    updated_at: str = ""

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict | None) -> "DialogueState":
        known = {k: v for k, v in (data or {}).items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def expired(self, now: datetime, idle: timedelta) -> bool:
        if not self.updated_at:
            return False
        return now - datetime.fromisoformat(self.updated_at) > idle


@dataclass(frozen=True)
class Reading:
    """How the engine reads one message in context."""

    query: str  # the text to retrieve with
    district: str | None
    entity: str | None
    follow_up: bool
    option_id: str | None = None  # a clarify option sent back verbatim

    def as_query(self) -> Query:
        return Query(self.query, self.district, self.entity, find_lines(self.query))


def _swap_entity(text: str, old: str | None, new: str) -> str:
    for word in sorted(ENTITY_WORDS.get(old or "", ()), key=len, reverse=True):
        if word in text:
            return text.replace(word, ENTITY_WORDS[new][0], 1)
    return f"{ENTITY_WORDS[new][0]} {text}"


def _residue(text: str, district: str) -> str:
    """What a message says besides naming a district and filler words."""
    return re.sub(r"[那么在去到办理的话呢区要如果是]", "", text.replace(district, ""))


def read_message(text: str, state: DialogueState) -> Reading:
    """Resolve clarify choices and short follow-ups ("那要多久？", "个体户呢？", "在南沙办呢？")."""
    stripped = text.strip().rstrip("？?。.!！ ")
    option = state.options.get(text.strip()) or next(
        (kp for title, kp in state.options.items() if title.rstrip("？?。.!！ ") == stripped), None)
    district = find_district(text)
    entity = find_entity(text)
    if option:
        return Reading(text, district or state.district, entity or state.entity, False, option)
    short = len(stripped) <= FOLLOW_UP_MAX_CHARS
    cue = bool(_FOLLOW_UP_HEAD.search(stripped) or _FOLLOW_UP_TAIL.search(text.strip()))
    if not (state.last_query and short and cue):
        return Reading(text, district, entity, False)
    if entity and entity != state.entity:
        query = _swap_entity(state.last_query, state.entity, entity)
    elif district and not _residue(stripped, district):
        query = f"{district}区 {state.last_query}"  # only the district changed
    else:
        query = f"{state.last_item} {text}".strip()
    return Reading(query, district or state.district, entity or state.entity, True)


def now_utc() -> datetime:
    return datetime.now(timezone.utc)
