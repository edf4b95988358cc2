"""Hybrid retrieval: BM25 and dense candidates, fused per knowledge point, aware of district and entity type."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from bot import fusion
from indexer.dense import QUERY_PROMPT, Embedder
from indexer.snapshot import Snapshot, Unit
from indexer.text import Tokenizer, normalize
from kb.model import ALL_ENTITIES, CITY_WIDE


@dataclass(frozen=True)
class Query:
    text: str
    district: str | None = None
    entity: str | None = None
    lines: frozenset[str] = frozenset()  # business lines the question names outright


@dataclass(frozen=True)
class Candidate:
    unit: Unit
    score: float  # fused and adjusted; ranks candidates
    dense: float  # best cosine of the query with any of the unit's questions
    bm25: float  # BM25 score divided by the query's ceiling, 0..1
    notes: tuple[str, ...] = field(default=())
    coverage: float = 1.0  # share of the query's words that occur anywhere in the knowledge base


@dataclass(frozen=True)
class Weights:
    w_dense: float = 0.6
    w_bm25: float = 0.4
    district_boost: float = 0.02
    entity_boost: float = 0.03
    policy_penalty: float = 0.05
    candidates: int = 50
    second_weight: float = 0.2
    line_boost: float = 0.01  # a point matched by two of its phrasings is a surer match than by one


def scope_adjustment(unit: Unit, query: Query, w: Weights) -> tuple[float, tuple[str, ...]]:
    """Prefer points for the asked district and entity type; a 全市 point answers when none is named."""
    if unit.kp is None:
        return -w.policy_penalty, ("policy",)
    adj, notes = 0.0, []
    if query.lines and unit.kp.line in query.lines:
        adj, notes = adj + w.line_boost, ["line_match"]
    district = unit.kp.district
    if district != CITY_WIDE:
        if query.district == district:
            adj, notes = adj + w.district_boost, notes + ["district_match"]
        else:
            adj, notes = adj - (4 * w.district_boost if query.district else w.district_boost), notes + ["district_other"]
    types = unit.kp.entity_types
    if query.entity and ALL_ENTITIES not in types:
        if query.entity in types:
            adj, notes = adj + w.entity_boost, notes + ["entity_match"]
        else:
            adj, notes = adj - w.entity_boost, notes + ["entity_other"]
    return adj, tuple(notes)


EXACT_PHRASING = "exact_phrasing"
_NOT_WORDS = re.compile(r"[\W_]+")


def phrasing_key(text: str) -> str:
    """A question with case, spaces and punctuation removed (text is already normalised)."""
    return _NOT_WORDS.sub("", text).lower()


def phrasing_index(units: list[Unit]) -> dict[str, int]:
    """Each curated phrasing (standard or similar question) → the one point it belongs to; a phrasing shared
    by two points names neither."""
    index: dict[str, int] = {}
    shared: set[str] = set()
    for i, unit in enumerate(units):
        for question in unit.kp.questions if unit.kp else ():
            key = phrasing_key(normalize(question))
            if key in index and index[key] != i:
                shared.add(key)
            index[key] = i
    return {k: v for k, v in index.items() if k not in shared and len(k) >= 4}


def blend(sims: list[float], second_weight: float) -> float:
    """(1-a)·best + a·second best; a unit with one vector keeps its score."""
    top = sorted(sims, reverse=True)[:2]
    return top[0] if len(top) == 1 else (1 - second_weight) * top[0] + second_weight * top[1]


class HybridRetriever:
    """Takes both searchers' inputs as collaborators; holds nothing mutable."""

    def __init__(self, snapshot: Snapshot, tokenizer: Tokenizer, embedder: Embedder, weights: Weights):
        self.snapshot = snapshot
        self.tokenizer = tokenizer
        self.embedder = embedder
        self.weights = weights
        self._by_id = {u.id: u for u in snapshot.units}
        self._unit_rows: list[list[int]] = [[] for _ in snapshot.units]
        for row, unit_index in enumerate(snapshot.rows.tolist()):
            self._unit_rows[unit_index].append(row)
        self._phrasings = phrasing_index(snapshot.units)

    def snapshot_unit(self, unit_id: str) -> Unit | None:
        return self._by_id.get(unit_id)

    def bm25_scores(self, tokens: list[str]) -> np.ndarray:
        """Per unit, BM25 divided by the query's ceiling (0..1)."""
        raw = self.snapshot.bm25.scores(tokens)
        ceiling = self.snapshot.bm25.ceiling(tokens)
        return raw / ceiling if ceiling > 0 else raw

    def dense_scores(self, vector: np.ndarray, k: int, second_weight: float) -> dict[int, float]:
        """Per unit among the top-k vectors: best cosine, blended with the second best of its phrasings."""
        scores, rows = self.snapshot.dense.search(vector, k)
        per_unit: dict[int, list[float]] = {}
        for score, row in zip(scores.tolist(), rows.tolist()):
            per_unit.setdefault(int(self.snapshot.rows[row]), []).append(score)
        out = {}
        for unit, sims in per_unit.items():
            if len(sims) < 2 and len(self._unit_rows[unit]) > 1:
                out[unit] = self._exact_dense(vector, unit, second_weight)
            else:
                out[unit] = blend(sims, second_weight)
        return out

    def _exact_dense(self, vector: np.ndarray, unit: int, second_weight: float) -> float:
        vectors = self.snapshot.dense.vectors[self._unit_rows[unit]]
        return blend((vectors @ vector).tolist(), second_weight)

    def search(self, query: Query, k: int = 10, weights: Weights | None = None) -> list[Candidate]:
        w = weights or self.weights
        tokens = self.tokenizer(query.text)
        bm25 = self.bm25_scores(tokens)
        vector = self.embedder.encode([query.text], prompt=QUERY_PROMPT)[0]
        dense = self.dense_scores(vector, w.candidates * 3, w.second_weight)
        top_bm25 = np.argsort(-bm25)[: w.candidates] if tokens else np.array([], dtype=int)
        pool = set(dense) | {int(i) for i in top_bm25 if bm25[i] > 0}
        for unit in pool - set(dense):
            dense[unit] = self._exact_dense(vector, unit, w.second_weight)
        coverage = sum(t in self.snapshot.bm25.vocab for t in tokens) / len(tokens) if tokens else 0.0
        fused = fusion.weighted({str(u): dense[u] for u in pool}, {str(u): float(bm25[u]) for u in pool},
                                w.w_dense, w.w_bm25)
        candidates = []
        exact = self._phrasings.get(phrasing_key(query.text))
        for key, score in fused.items():
            unit = self.snapshot.units[int(key)]
            adj, notes = scope_adjustment(unit, query, w)
            if int(key) == exact:
                notes = (*notes, EXACT_PHRASING)
            candidates.append(Candidate(unit, score + adj, dense[int(key)], float(bm25[int(key)]), notes, coverage))
        candidates.sort(key=lambda c: (-c.score, c.unit.id))
        return candidates[:k]
