"""BM25 query time on synthetic 50k and 500k chunk corpora: the served sparse index vs rank-bm25.

Documents are drawn from the real index vocabulary with a Zipf distribution (about 60 tokens each);
queries are 6 tokens drawn the same way. Prints JSON.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from indexer.bm25 import BM25Index, rank_bm25_reference  # noqa: E402


def synthetic(n_docs: int, vocab_size: int = 20000, doc_len: int = 60, seed: int = 7) -> tuple[list[list[str]], list[list[str]]]:
    rng = np.random.default_rng(seed)
    vocab = [f"w{i}" for i in range(vocab_size)]
    ranks = np.arange(1, vocab_size + 1)
    p = 1.0 / ranks
    p /= p.sum()
    docs = [[vocab[i] for i in rng.choice(vocab_size, size=doc_len, p=p)] for _ in range(n_docs)]
    queries = [[vocab[i] for i in rng.choice(vocab_size, size=6, p=p)] for _ in range(200)]
    return docs, queries


def time_queries(score, queries, repeat: int = 1) -> dict:
    times = []
    for q in queries:
        t0 = time.perf_counter()
        for _ in range(repeat):
            score(q)
        times.append((time.perf_counter() - t0) / repeat * 1000)
    return {"p50_ms": round(float(np.percentile(times, 50)), 3), "p95_ms": round(float(np.percentile(times, 95)), 3)}


def run(sizes=(50_000, 500_000), reference_queries: int = 10) -> dict:
    out = {}
    for n in sizes:
        docs, queries = synthetic(n)
        t0 = time.perf_counter()
        index = BM25Index.build(docs)
        build = time.perf_counter() - t0
        row = {"docs": n, "build_s": round(build, 1), "sparse": time_queries(index.scores, queries)}
        ref = rank_bm25_reference(docs)
        row["rank_bm25"] = time_queries(ref.get_scores, queries[:reference_queries])
        same = all(np.allclose(index.scores(q), ref.get_scores(q), rtol=1e-4, atol=1e-5) for q in queries[:reference_queries])
        row["scores_equal_rank_bm25"] = bool(same)
        out[str(n)] = row
        del ref, docs
    return out


if __name__ == "__main__":
    print(json.dumps(run(), indent=1))
