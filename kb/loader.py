"""Load and validate the knowledge source files; report every problem, serve nothing half-loaded."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Iterable

import yaml

from kb.model import (
    ALL_ENTITIES, CITY_WIDE, DISTRICTS, ENTITY_TYPES, LINES, QUEUES,
    Corpus, KnowledgePoint, PolicyDocument, queue_for_line,
)

ITEM_KEYS = {"code", "name", "line", "queue", "department", "channel", "legal_basis", "entity_types",
             "district", "effective_from", "expires_on", "reviewed_on", "tags"}
POINT_KEYS = {"id", "question", "similar", "answer"} | (ITEM_KEYS - {"code", "name", "line"})
POLICY_KEYS = {"id", "title", "issuer", "doc_number", "date", "line", "source"}
CODE_RE = re.compile(r"^[A-Z][A-Z0-9]*(-[A-Z0-9]+)*$")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the source files, located precisely enough to fix it."""

    file: str
    line: int | None
    entry: str
    field: str
    message: str
    severity: str = "error"  # "error" blocks loading; "warning" only excludes the entry

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        entry = f" [{self.entry}]" if self.entry else ""
        return f"{self.severity}: {where}{entry} {self.field}: {self.message}"


class CorpusError(ValueError):
    """Raised when the corpus has errors; carries every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        errors = [p for p in problems if p.severity == "error"]
        super().__init__(f"{len(errors)} error(s) in the knowledge base:\n" + "\n".join(map(str, errors[:50])))


class _LineLoader(yaml.SafeLoader):
    """A safe YAML loader that remembers the line each mapping starts on."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    mapping = loader.construct_mapping(node, deep=True)
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
# dates stay text so that a bad one ("2022-13-01") is reported by the checker instead of crashing the parser
_LineLoader.yaml_implicit_resolvers = {
    first: [r for r in resolvers if r[0] != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class _Checker:
    """Collects problems while converting raw records into typed ones."""

    def __init__(self, today: date):
        self.today = today
        self.problems: list[Problem] = []
        self.seen_ids: dict[str, str] = {}  # point id → file, checked even when the point has other errors

    def add(self, file: str, line: int | None, entry: str, fld: str, msg: str, severity: str = "error") -> None:
        self.problems.append(Problem(file, line, entry, fld, msg, severity))

    def text(self, rec: dict, key: str, where: tuple, required: bool = True) -> str:
        value = rec.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.add(*where, key, "is missing or empty")
            return ""
        if not isinstance(value, (str, int, float)):
            self.add(*where, key, f"must be text, got {type(value).__name__}")
            return ""
        return str(value).strip()

    def day(self, rec: dict, key: str, where: tuple, required: bool = False) -> date | None:
        value = rec.get(key)
        if value is None or value == "":
            if required:
                self.add(*where, key, "is missing; expected a date YYYY-MM-DD")
            return None
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            self.add(*where, key, f"bad date {value!r}; expected YYYY-MM-DD")
            return None

    def choice(self, value: Any, allowed: Iterable[str], key: str, where: tuple) -> str:
        allowed = tuple(allowed)
        if value not in allowed:
            self.add(*where, key, f"unknown value {value!r}; expected one of {'、'.join(allowed)}")
        return str(value)

    def strings(self, rec: dict, key: str, where: tuple) -> tuple[str, ...]:
        value = rec.get(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, (str, int)) for v in value):
            self.add(*where, key, "must be a list of texts")
            return ()
        return tuple(str(v).strip() for v in value if str(v).strip())

    def unknown_keys(self, rec: dict, allowed: set[str], where: tuple) -> None:
        for key in sorted(set(rec) - allowed - {"__line__"}):
            self.add(*where, key, f"unknown field; expected one of {', '.join(sorted(allowed))}")


def _item_point(chk: _Checker, item: dict, rec: dict, file: str) -> KnowledgePoint | None:
    pid = str(rec.get("id") or "").strip()
    where = (file, rec.get("__line__"), pid)
    chk.unknown_keys(rec, POINT_KEYS, where)
    merged = {k: v for k, v in item.items() if k in POINT_KEYS}
    merged.update({k: v for k, v in rec.items() if v is not None})
    code = str(item.get("code") or "")
    if pid in chk.seen_ids:
        chk.add(*where, "id", f"duplicates {pid} ({chk.seen_ids[pid]})")
    elif pid:
        chk.seen_ids[pid] = file
    if not pid:
        chk.add(*where, "id", "is missing")
    elif not re.fullmatch(re.escape(code) + r"-\d{3,4}", pid):
        chk.add(*where, "id", f"{pid!r} must be <item code>-<digits>, e.g. {code}-001")
    question = chk.text(merged, "question", where)
    answer = chk.text(merged, "answer", where)
    similar = chk.strings(merged, "similar", where)
    if len(similar) < 2:
        chk.add(*where, "similar", f"needs at least 2 similar questions, has {len(similar)}")
    if question and question in similar:
        chk.add(*where, "similar", "repeats the standard question")
    line = chk.choice(item.get("line"), LINES, "line", where)
    queue = chk.choice(merged.get("queue", queue_for_line(line)), QUEUES, "queue", where)
    district = chk.choice(merged.get("district", CITY_WIDE), (CITY_WIDE, *DISTRICTS), "district", where)
    entities = chk.strings(merged, "entity_types", where) or (ALL_ENTITIES,)
    for entity in entities:
        chk.choice(entity, (ALL_ENTITIES, *ENTITY_TYPES), "entity_types", where)
    effective = chk.day(merged, "effective_from", where, required=True)
    expires = chk.day(merged, "expires_on", where)
    reviewed = chk.day(merged, "reviewed_on", where)
    legal = chk.text(merged, "legal_basis", where)
    if effective and expires and expires <= effective:
        chk.add(*where, "expires_on", f"{expires} is not after effective_from {effective}")
    if not (pid and question and answer and effective):
        return None
    return KnowledgePoint(
        id=pid, line=line, queue=queue, item=str(item.get("name", "")), item_code=code,
        question=question, similar=similar, answer=answer, entity_types=entities, district=district,
        department=chk.text(merged, "department", where), legal_basis=legal,
        channel=chk.text(merged, "channel", where, required=False), effective_from=effective,
        expires_on=expires, reviewed_on=reviewed, tags=chk.strings(merged, "tags", where), source=file,
    )


def _load_item_file(chk: _Checker, path: Path, rel: str) -> tuple[str, str, list[KnowledgePoint]]:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_LineLoader)  # noqa: S506 - SafeLoader subclass
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        chk.add(rel, getattr(getattr(exc, "problem_mark", None), "line", -1) + 1 or None, "", "yaml", str(exc).splitlines()[0])
        return "", "", []
    if not isinstance(data, dict) or not isinstance(data.get("item"), dict) or not isinstance(data.get("points"), list):
        chk.add(rel, None, "", "file", "must be a mapping with 'item' (mapping) and 'points' (list)")
        return "", "", []
    item = data["item"]
    where = (rel, item.get("__line__"), "item")
    chk.unknown_keys(item, ITEM_KEYS, where)
    code = chk.text(item, "code", where)
    if code and not CODE_RE.match(code):
        chk.add(*where, "code", f"{code!r} must be upper-case letters, digits and '-'")
    name = chk.text(item, "name", where)
    chk.choice(item.get("line"), LINES, "line", where)
    points = []
    for rec in data["points"]:
        if not isinstance(rec, dict):
            chk.add(rel, None, "", "points", f"each point must be a mapping, got {type(rec).__name__}")
            continue
        point = _item_point(chk, item, rec, rel)
        if point:
            points.append(point)
    return code, name, points


def _load_policy(chk: _Checker, path: Path, rel: str) -> PolicyDocument | None:
    text = path.read_text(encoding="utf-8")
    match = re.match(r"^---\n(.*?)\n---\n(.*)$", text, re.S)
    if not match:
        chk.add(rel, 1, "", "front matter", "must start with '---' YAML front matter '---'")
        return None
    try:
        meta = yaml.load(match.group(1), Loader=_LineLoader) or {}  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as exc:
        chk.add(rel, 1, "", "front matter", str(exc).splitlines()[0])
        return None
    return _policy(chk, meta, match.group(2), rel)


def _policy(chk: _Checker, meta: dict, body: str, rel: str) -> PolicyDocument | None:
    where = (rel, 1, str(meta.get("id", "")))
    chk.unknown_keys(meta, POLICY_KEYS, where)
    values = {k: chk.text(meta, k, where) for k in ("id", "title", "issuer", "line")}
    chk.choice(values["line"], LINES, "line", where)
    issued = chk.day(meta, "date", where, required=True)
    body = body.strip()
    if not body:
        chk.add(*where, "body", "is empty")
    if not all(values.values()) or not issued or not body:
        return None
    return PolicyDocument(
        id=values["id"], title=values["title"], issuer=values["issuer"], line=values["line"],
        doc_number=str(meta.get("doc_number") or ""), date=issued, body=body, source=rel,
        origin=str(meta.get("source") or ""),
    )


def _check_duplicates(chk: _Checker, points: list[KnowledgePoint], policies: list[PolicyDocument]) -> None:
    seen: dict[tuple[str, str], KnowledgePoint] = {}
    for point in points:
        for fld, value in (("question", point.question), ("answer", point.answer)):
            other = seen.setdefault((fld, value), point)
            if other is not point:
                chk.add(point.source, None, point.id, fld, f"duplicates {other.id} ({other.source})")
    ids: dict[str, str] = {}
    for doc in policies:
        if ids.setdefault(doc.id, doc.source) != doc.source:
            chk.add(doc.source, 1, doc.id, "id", f"duplicates the policy document in {ids[doc.id]}")


def check_point(record: dict, source: str = "", today: date | None = None) -> tuple[KnowledgePoint | None, list[Problem]]:
    """Validate one point given flat (line, item, item_code and the point fields) with the loader's rules."""
    chk = _Checker(today or date.today())
    rec = {k: v for k, v in record.items() if k not in {"line", "item", "item_code"}}
    item = {"code": record.get("item_code") or "", "name": record.get("item") or "", "line": record.get("line")}
    where = (source, None, str(record.get("id") or ""))
    chk.text(item, "name", where)
    if item["code"] and not CODE_RE.match(item["code"]):
        chk.add(*where, "item_code", f"{item['code']!r} must be upper-case letters, digits and '-'")
    point = _item_point(chk, item, rec, source)
    errors = [p for p in chk.problems if p.severity == "error"]
    return (None if errors else point), chk.problems


def check_policy(meta: dict, body: str, source: str = "") -> tuple[PolicyDocument | None, list[Problem]]:
    """Validate one policy document (front-matter fields and body) with the loader's rules."""
    chk = _Checker(date.today())
    doc = _policy(chk, meta, body, source)
    return (None if any(p.severity == "error" for p in chk.problems) else doc), chk.problems


def check_duplicates(points: Iterable[KnowledgePoint], policies: Iterable[PolicyDocument] = ()) -> list[Problem]:
    """Points sharing a standard question or an answer text, policy documents sharing an id."""
    chk = _Checker(date.today())
    _check_duplicates(chk, list(points), list(policies))
    return chk.problems


def load_corpus(root: Path, today: date | None = None) -> Corpus:
    """Load every source file under root; raise CorpusError listing all errors, skip out-of-force points."""
    today = today or date.today()
    root = Path(root)
    chk = _Checker(today)
    if not root.is_dir():
        raise CorpusError([Problem(str(root), None, "", "path", "knowledge directory does not exist")])
    points: list[KnowledgePoint] = []
    items: dict[str, str] = {}
    for path in sorted(root.rglob("*.y*ml")):
        rel = str(path.relative_to(root))
        code, name, loaded = _load_item_file(chk, path, rel)
        if code in items:
            chk.add(rel, None, "item", "code", f"item code {code} is used by another file too")
        elif code:
            items[code] = name
        points.extend(loaded)
    policies = [d for p in sorted((root / "policies").glob("*.md")) if (d := _load_policy(chk, p, str(p.relative_to(root))))]
    _check_duplicates(chk, points, policies)
    if not points and not policies:
        chk.add(str(root), None, "", "corpus", "no knowledge points or policy documents found")
    if any(p.severity == "error" for p in chk.problems):
        raise CorpusError(chk.problems)
    served = []
    for point in points:
        if point.expires_on and point.expires_on <= today:
            chk.add(point.source, None, point.id, "expires_on", f"expired on {point.expires_on}; not served", "warning")
        elif point.effective_from > today:
            chk.add(point.source, None, point.id, "effective_from", f"not in force until {point.effective_from}; not served", "warning")
        else:
            served.append(point)
    return Corpus(points=tuple(served), policies=tuple(policies), items=items, warnings=tuple(chk.problems))
