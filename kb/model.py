"""Typed records of the knowledge base and the fixed vocabularies they use."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from datetime import date

LINES = ("商事登记", "公积金", "社保", "税务", "不动产", "其他")
QUEUES = ("商事登记", "公积金", "社保", "综合")
QUEUE_OF_LINE = {"商事登记": "商事登记", "公积金": "公积金", "社保": "社保"}  # every other line → 综合
DISTRICTS = ("越秀", "海珠", "荔湾", "天河", "白云", "黄埔", "番禺", "花都", "南沙", "从化", "增城")
CITY_WIDE = "全市"
ALL_ENTITIES = "全部"
ENTITY_TYPES = (
    "有限公司", "股份公司", "个人独资", "合伙", "个体工商户", "分公司", "外商投资",
    "农民专业合作社", "非公司企业法人", "机关事业单位", "社会组织",
)


def queue_for_line(line: str) -> str:
    return QUEUE_OF_LINE.get(line, "综合")


@dataclass(frozen=True)
class KnowledgePoint:
    """One curated question with its authoritative answer."""

    id: str
    line: str
    queue: str
    item: str
    item_code: str
    question: str
    similar: tuple[str, ...]
    answer: str
    entity_types: tuple[str, ...]
    district: str
    department: str
    legal_basis: str
    channel: str
    effective_from: date
    expires_on: date | None
    reviewed_on: date | None
    tags: tuple[str, ...] = ()
    source: str = ""  # file it came from

    @property
    def questions(self) -> tuple[str, ...]:
        return (self.question, *self.similar)

    def in_force(self, today: date) -> bool:
        return self.effective_from <= today and (self.expires_on is None or today < self.expires_on)


@dataclass(frozen=True)
class PolicyDocument:
    """A policy document or explainer; the indexer chunks its body."""

    id: str
    title: str
    issuer: str
    doc_number: str
    date: date
    line: str
    body: str
    source: str = ""
    origin: str = ""  # the statute it explains


@dataclass(frozen=True)
class Corpus:
    """Everything that would be served, validated as a whole."""

    points: tuple[KnowledgePoint, ...]
    policies: tuple[PolicyDocument, ...] = ()
    items: dict[str, str] = field(default_factory=dict)  # item code → item name
    warnings: tuple = ()  # loader problems that excluded an entry without blocking the load

    @cached_property
    def by_id(self) -> dict[str, KnowledgePoint]:
        return {p.id: p for p in self.points}
