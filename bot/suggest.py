"""Knowledge suggestions for agents: the KB side panel and `/api/kb/search` (no decision, just ranked points)."""
from __future__ import annotations

from bot.decide import confidence
from bot.engine import AnswerEngine
from bot.entities import find_district, find_entity, find_lines
from bot.intents import CHITCHAT_REPLIES, classify
from bot.retrieve import Query
from indexer.snapshot import Unit
from indexer.text import normalize

MAX_QUERY_CHARS = 300
MIN_SUGGESTION_CONFIDENCE = 0.02  # below this a suggestion is noise; the best one is still shown
_NOT_QUESTIONS = {"handoff", *CHITCHAT_REPLIES}


def unit_json(unit: Unit, score: float) -> dict:
    """What an agent needs to reuse a point: the answer, its basis, validity, department and channel."""
    kp = unit.kp
    body = {"id": unit.id, "kind": unit.kind, "title": unit.title, "answer": unit.text, "score": round(score, 4),
            "line": unit.line, "legal_basis": unit.legal_basis}
    if kp is not None:
        body.update(item=kp.item, district=kp.district, department=kp.department, channel=kp.channel,
                    effective_from=kp.effective_from.isoformat(),
                    expires_on=kp.expires_on.isoformat() if kp.expires_on else None)
    elif unit.doc:
        body.update(item=None, district=None, department=unit.doc.get("issuer"), channel=None,
                    effective_from=str(unit.doc.get("date") or "") or None, expires_on=None,
                    document=unit.doc.get("title"), doc_number=unit.doc.get("doc_number"))
    return body


def search_kb(engine: AnswerEngine, text: str, k: int = 5, district: str | None = None) -> list[dict]:
    """The k best knowledge points (and policy passages) for free text, with a 0..1 confidence each."""
    text = normalize(text)[-MAX_QUERY_CHARS:].strip()
    if not text:
        return []
    query = Query(text, district or find_district(text), find_entity(text), find_lines(text))
    candidates = engine.retriever.search(query, k=k)
    scored = [(c, confidence(c, engine.t)) for c in candidates[:k]]
    useful = [(c, s) for c, s in scored if s >= MIN_SUGGESTION_CONFIDENCE]
    return [unit_json(c.unit, s) for c, s in (useful or scored[:1])]


def suggest_for_conversation(engine: AnswerEngine, user_messages: list[str], district: str | None = None,
                             k: int = 5) -> tuple[str | None, list[dict]]:
    """Suggestions for the side panel and the question they answer: the latest real question (not “转人工” or
    small talk), with the one before it as context when it is short."""
    texts = [t for t in user_messages if t.strip() and classify(normalize(t)).name not in _NOT_QUESTIONS]
    if not texts:
        return None, []
    latest = texts[-1]
    results = search_kb(engine, latest, k, district)
    if len(latest) < 12 and len(texts) > 1:  # "那要多久" alone says little: add the previous question
        merged = {r["id"]: r for r in search_kb(engine, f"{texts[-2]} {latest}", k, district)}
        for r in results:
            merged.setdefault(r["id"], r)
        results = sorted(merged.values(), key=lambda r: -r["score"])[:k]
    return latest, results
