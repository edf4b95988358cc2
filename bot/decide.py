"""The answer decision as named rules: answer, clarify (ambiguous or unsure) or fall back."""
from __future__ import annotations

import math
from dataclasses import dataclass

from bot.retrieve import EXACT_PHRASING, Candidate


@dataclass(frozen=True)
class Thresholds:
    conf_bias: float = -8.0
    conf_dense: float = 10.0
    conf_bm25: float = 4.0
    conf_coverage: float = 0.0
    answer: float = 0.5  # at or above: answer (unless ambiguous)
    fallback: float = 0.25  # below: nothing fits
    clarify_margin: float = 0.03  # candidates this close to the top one are real alternatives
    max_options: int = 4


@dataclass(frozen=True)
class Decision:
    type: str  # "answer" | "clarify" | "fallback"
    reason: str  # the rule that fired, logged with the turn
    confidence: float
    chosen: tuple[Candidate, ...]  # the answer's source, or the clarify options


def confidence(candidate: Candidate, t: Thresholds) -> float:
    """Probability that the candidate answers the question, from a logistic fit on the dev set."""
    z = t.conf_bias + t.conf_dense * candidate.dense + t.conf_bm25 * candidate.bm25 + t.conf_coverage * candidate.coverage
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


def decide(candidates: list[Candidate], t: Thresholds) -> Decision:
    if not candidates:
        return Decision("fallback", "no_candidates", 0.0, ())
    top = candidates[0]
    conf = confidence(top, t)
    if conf < t.fallback:
        return Decision("fallback", "below_fallback_threshold", conf, ())
    if EXACT_PHRASING in top.notes:  # the user asked one of the point's own curated phrasings, word for word
        return Decision("answer", "exact_phrasing", max(conf, t.answer), (top,))
    close = [c for c in candidates[1:] if top.score - c.score <= t.clarify_margin and c.unit.title != top.unit.title]
    if close:
        return Decision("clarify", "ambiguous_top_candidates", conf, (top, *close[: t.max_options - 1]))
    if conf < t.answer:
        options = [c for c in candidates if confidence(c, t) >= t.fallback][: t.max_options]
        return Decision("clarify", "below_answer_threshold", conf, tuple(options) or (top,))
    return Decision("answer", "confident", conf, (top,))
