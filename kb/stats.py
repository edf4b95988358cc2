"""Counts of the knowledge that would be served (`hotline kb stats`)."""
from __future__ import annotations

from collections import Counter

from kb.model import Corpus


def corpus_stats(corpus: Corpus) -> dict:
    """The contract's `hotline kb stats --json` object."""
    return {
        "knowledge_points": len(corpus.points),
        "service_items": len({p.item_code for p in corpus.points}),
        "policy_documents": len(corpus.policies),
        "by_line": dict(Counter(p.line for p in corpus.points).most_common()),
        "by_district": dict(Counter(p.district for p in corpus.points).most_common()),
    }
