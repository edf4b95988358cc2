"""The served corpus: the reviewed YAML seed plus the editors' published entries (a pure merge)."""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, replace
from datetime import date

from kb.loader import Problem, check_duplicates, check_point, check_policy
from kb.model import Corpus, KnowledgePoint, PolicyDocument

KINDS = ("point", "policy")


@dataclass(frozen=True)
class Entry:
    """An editorial entry as the merge sees it: `data` is what was last published (None: never published)."""

    id: str
    kind: str  # point | policy
    status: str  # draft | reviewed | published | retired
    data: dict | None


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def point_data(point: KnowledgePoint) -> dict:
    """A point as the flat JSON record editors, imports and the database use."""
    raw = asdict(point)
    raw.pop("source", None)
    for key in ("effective_from", "expires_on", "reviewed_on"):
        raw[key] = _iso(raw[key])
    for key in ("similar", "entity_types", "tags"):
        raw[key] = list(raw[key])
    return raw


def policy_data(doc: PolicyDocument) -> dict:
    return {"id": doc.id, "title": doc.title, "issuer": doc.issuer, "doc_number": doc.doc_number,
            "date": _iso(doc.date), "line": doc.line, "origin": doc.origin, "body": doc.body}


def point_from_data(data: dict, source: str = "") -> tuple[KnowledgePoint | None, list[Problem]]:
    """Validate a flat point record with the loader's rules (expiry is the merge's business, not validity's)."""
    record = {k: v for k, v in data.items() if k not in {"source"}}
    return check_point(record, source, today=date.min)


def policy_from_data(data: dict, source: str = "") -> tuple[PolicyDocument | None, list[Problem]]:
    meta = {k: data.get(k) for k in ("id", "title", "issuer", "doc_number", "date", "line")}
    meta["source"] = data.get("origin") or ""
    return check_policy(meta, str(data.get("body") or ""), source)


def from_data(kind: str, data: dict, source: str = "") -> tuple[KnowledgePoint | PolicyDocument | None, list[Problem]]:
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    return point_from_data(data, source) if kind == "point" else policy_from_data(data, source)


def overlay_hash(entries: list[Entry]) -> str:
    """Hash of what the overlay changes in the served corpus; part of the index fingerprint."""
    digest = hashlib.sha256()
    for entry in sorted(entries, key=lambda e: (e.kind, e.id)):
        served = entry.data if entry.status != "retired" else None
        digest.update(json.dumps([entry.kind, entry.id, entry.status == "retired", served],
                                 ensure_ascii=False, sort_keys=True).encode())
    return digest.hexdigest()


def in_force(point: KnowledgePoint, today: date) -> bool:
    return point.effective_from <= today and (point.expires_on is None or today < point.expires_on)


def merge(corpus: Corpus, entries: list[Entry], today: date | None = None) -> Corpus:
    """YAML corpus + published entries: a published entry with a YAML id replaces it, a retired one removes it,
    a point out of force is never served. An entry that no longer validates is left out with a warning."""
    today = today or date.today()
    warnings: list[Problem] = list(corpus.warnings)
    points = {p.id: p for p in corpus.points}
    policies = {d.id: d for d in corpus.policies}
    items = dict(corpus.items)
    for entry in sorted(entries, key=lambda e: e.id):
        target = points if entry.kind == "point" else policies
        if entry.status == "retired":
            target.pop(entry.id, None)
            continue
        if entry.data is None:
            continue
        record, problems = from_data(entry.kind, entry.data, source=f"db:{entry.id}")
        if record is None or record.id != entry.id:
            warnings += [replace(p, severity="warning", message=f"{p.message}; published entry not served")
                         for p in problems if p.severity == "error"]
            target.pop(entry.id, None)
            continue
        if isinstance(record, KnowledgePoint):
            items.setdefault(record.item_code, record.item)
            if not in_force(record, today):
                warnings.append(Problem(record.source, None, record.id, "expires_on",
                                        f"out of force on {today}; not served", "warning"))
                points.pop(record.id, None)
                continue
        target[entry.id] = record
    # YAML points first, so that a published entry repeating another point's question or answer is the one left out
    served_points = sorted((p for p in points.values() if in_force(p, today)),
                           key=lambda p: (p.source.startswith("db:"), p.id))
    duplicates = [p for p in check_duplicates(served_points) if p.file.startswith("db:")]
    warnings += [replace(p, severity="warning", message=f"{p.message}; not served") for p in duplicates]
    served_points = [p for p in served_points if p.id not in {d.entry for d in duplicates}]
    return Corpus(points=tuple(sorted(served_points, key=lambda p: p.id)),
                  policies=tuple(sorted(policies.values(), key=lambda d: d.id)), items=items, warnings=tuple(warnings))


def valid_until(corpus: Corpus, entries: list[Entry], today: date | None = None) -> date | None:
    """The first day on which the served set changes by itself: a served point expires or a published one
    comes into force. An index built today is stale from that day on."""
    today = today or date.today()
    days = [p.expires_on for p in corpus.points if p.expires_on and p.expires_on > today]
    for problem in corpus.warnings:  # seed points the loader left out because they are not in force yet
        found = re.match(r"not in force until (\d{4}-\d{2}-\d{2})", problem.message)
        if problem.field == "effective_from" and found and found.group(1) > today.isoformat():
            days.append(date.fromisoformat(found.group(1)))
    for entry in entries:
        if entry.kind == "point" and entry.status != "retired" and entry.data:
            start = entry.data.get("effective_from")
            if isinstance(start, str) and start > today.isoformat():
                days.append(date.fromisoformat(start))
    return min(days) if days else None
