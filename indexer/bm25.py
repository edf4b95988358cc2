"""BM25 over a sparse term-document matrix; scores match rank-bm25's BM25Okapi with Lucene's idf."""
from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import Sequence

import numpy as np
from scipy import sparse


def lucene_idf(doc_freq: np.ndarray, n_docs: int) -> np.ndarray:
    """log(1 + (N - n + 0.5) / (n + 0.5)): never zero or negative, so a keyword hit always scores above zero.

    rank-bm25's BM25Okapi uses log((N - n + 0.5) / (n + 0.5)), which is 0 or negative for a term in half the
    documents or more; on small corpora that scores a real match 0.
    """
    return np.log1p((n_docs - doc_freq + 0.5) / (doc_freq + 0.5))


class BM25Index:
    """Precomputed BM25 weights per (term, document); a query sums a few sparse rows."""

    def __init__(self, vocab: dict[str, int], weights: sparse.csr_matrix, idf: np.ndarray, k1: float, b: float):
        self.vocab = vocab
        self.weights = weights  # terms × documents
        self.idf = idf
        self.k1 = k1
        self.b = b
        self.max_idf = float(idf.max()) if len(idf) else 1.0

    @property
    def n_docs(self) -> int:
        return self.weights.shape[1]

    @classmethod
    def build(cls, docs: Sequence[Sequence[str]], k1: float = 1.2, b: float = 0.75) -> "BM25Index":
        vocab: dict[str, int] = {}
        rows, cols, tfs = [], [], []
        lengths = np.zeros(len(docs), dtype=np.float64)
        for j, tokens in enumerate(docs):
            lengths[j] = len(tokens)
            for term, tf in Counter(tokens).items():
                rows.append(vocab.setdefault(term, len(vocab)))
                cols.append(j)
                tfs.append(tf)
        tf = np.asarray(tfs, dtype=np.float64)
        cols_a = np.asarray(cols, dtype=np.int64)
        doc_freq = np.bincount(np.asarray(rows, dtype=np.int64), minlength=len(vocab)).astype(np.float64)
        idf = lucene_idf(doc_freq, len(docs))
        avgdl = lengths.mean() if len(docs) else 1.0
        norm = k1 * (1 - b + b * lengths[cols_a] / max(avgdl, 1e-9))
        data = idf[np.asarray(rows, dtype=np.int64)] * tf * (k1 + 1) / (tf + norm)
        weights = sparse.csr_matrix((data, (rows, cols)), shape=(len(vocab), len(docs)), dtype=np.float32)
        return cls(vocab, weights, idf.astype(np.float32), k1, b)

    def scores(self, query: Sequence[str]) -> np.ndarray:
        """BM25 score of every document for the query tokens (repeated tokens count again, as in rank-bm25)."""
        ids = [self.vocab[t] for t in query if t in self.vocab]
        if not ids:
            return np.zeros(self.n_docs, dtype=np.float32)
        counts = Counter(ids)
        rows = np.fromiter(counts, dtype=np.int64)
        mult = np.fromiter(counts.values(), dtype=np.float32)
        return np.asarray(self.weights[rows].T @ mult).ravel()

    def ceiling(self, query: Sequence[str]) -> float:
        """The most any document could score: each token's idf·(k1+1), unknown tokens at the largest idf."""
        total = 0.0
        for term in query:
            idf = self.idf[self.vocab[term]] if term in self.vocab else self.max_idf
            total += float(idf) * (self.k1 + 1)
        return total

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        w = self.weights
        np.savez(folder / "bm25.npz", data=w.data, indices=w.indices, indptr=w.indptr,
                 shape=np.asarray(w.shape), idf=self.idf)
        terms = sorted(self.vocab, key=self.vocab.__getitem__)
        (folder / "bm25.json").write_text(json.dumps({"k1": self.k1, "b": self.b, "terms": terms},
                                                     ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> "BM25Index":
        meta = json.loads((folder / "bm25.json").read_text(encoding="utf-8"))
        with np.load(folder / "bm25.npz", allow_pickle=False) as z:
            weights = sparse.csr_matrix((z["data"], z["indices"], z["indptr"]), shape=tuple(z["shape"]))
            idf = z["idf"]
        vocab = {t: i for i, t in enumerate(meta["terms"])}
        return cls(vocab, weights, idf, meta["k1"], meta["b"])


def rank_bm25_reference(docs: Sequence[Sequence[str]], k1: float = 1.2, b: float = 0.75):
    """rank-bm25's BM25Okapi with this module's idf: the reference the served scores are checked against."""
    from rank_bm25 import BM25Okapi

    class LuceneIdfBM25Okapi(BM25Okapi):
        def _calc_idf(self, nd):
            for word, freq in nd.items():
                self.idf[word] = math.log1p((self.corpus_size - freq + 0.5) / (freq + 0.5))

    return LuceneIdfBM25Okapi([list(d) for d in docs], k1=k1, b=b)
