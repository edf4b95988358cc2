"""Score fusion as pure functions: weighted sum of calibrated scores, and reciprocal rank fusion."""
from __future__ import annotations

from typing import Mapping


def weighted(dense: Mapping[str, float], sparse: Mapping[str, float], w_dense: float, w_sparse: float) -> dict[str, float]:
    """w_dense·dense + w_sparse·sparse over the union of ids; an id missing from one side scores 0 there."""
    ids = set(dense) | set(sparse)
    return {i: w_dense * dense.get(i, 0.0) + w_sparse * sparse.get(i, 0.0) for i in ids}


def rrf(rankings: list[list[str]], k: int = 60) -> dict[str, float]:
    """Reciprocal rank fusion: Σ 1/(k + rank) over the rankings an id appears in."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, doc_id in enumerate(ranking, start=1):
            scores[doc_id] = scores.get(doc_id, 0.0) + 1.0 / (k + rank)
    return scores


def ranked(scores: Mapping[str, float]) -> list[tuple[str, float]]:
    """Highest first; ties broken by id so the order is deterministic."""
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
