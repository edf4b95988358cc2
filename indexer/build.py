"""Build a new index beside the served one, then swap it in (`hotline index`)."""
from __future__ import annotations

import hashlib
import logging
import os
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Iterator

import numpy as np

from indexer.bm25 import BM25Index
from indexer.chunking import chunk_document
from indexer.dense import PASSAGE_PROMPT, QUERY_PROMPT, DenseIndex, Embedder, EmbeddingCache
from indexer.snapshot import FORMAT, Snapshot, Unit, chunk_unit, kp_unit
from indexer.text import DOMAIN_DICT, SYNONYMS, Tokenizer
from kb.model import Corpus

log = logging.getLogger(__name__)
# BM25 field weights, as token repetitions: a point is found mostly through its questions.
FIELD_WEIGHTS = {"question": 3, "similar": 2, "item": 1, "answer": 1}
POLICY_TITLE_WEIGHT = 2
KEEP_BUILDS = 3


@dataclass(frozen=True)
class BuildReport:
    folder: Path
    knowledge_points: int
    policy_chunks: int
    vectors: int
    vocabulary: int
    seconds: dict[str, float]
    cache_hits: int
    cache_misses: int


def fingerprint(kb_dir: Path, embedder_name: str, overlay: str = "") -> str:
    """Hash of everything a build depends on: source files, dictionary, synonyms, model, format, and the hash of
    the editors' published entries (`overlay`)."""
    digest = hashlib.sha256(f"format={FORMAT};model={embedder_name}".encode())
    if overlay:
        digest.update(f"overlay={overlay}".encode())
    files = sorted(p for p in Path(kb_dir).rglob("*") if p.is_file() and p.suffix in {".yaml", ".yml", ".md"})
    for path in [*files, DOMAIN_DICT, SYNONYMS]:
        digest.update(str(path.name).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def current_link(out_root: Path) -> Path:
    return Path(out_root) / "current"


def is_stale(out_root: Path, corpus_hash: str) -> bool:
    manifest = current_link(out_root) / "manifest.json"
    if not manifest.exists():
        return True
    import json

    data = json.loads(manifest.read_text(encoding="utf-8"))
    # valid_until: the day a served point expires or a published one comes into force
    expired = bool(data.get("valid_until")) and date.today().isoformat() >= data["valid_until"]
    return expired or data.get("corpus_hash") != corpus_hash


@contextmanager
def build_lock(out_root: Path) -> Iterator[bool]:
    """An exclusive, non-blocking lock on out_root/build.lock: yields False when another build holds it."""
    import fcntl

    Path(out_root).mkdir(parents=True, exist_ok=True)
    with open(Path(out_root) / "build.lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def bm25_document(unit: Unit, tokenize: Tokenizer) -> list[str]:
    if unit.kp:
        kp = unit.kp
        tokens = tokenize(kp.question) * FIELD_WEIGHTS["question"]
        for similar in kp.similar:
            tokens += tokenize(similar) * FIELD_WEIGHTS["similar"]
        return tokens + tokenize(kp.item) * FIELD_WEIGHTS["item"] + tokenize(kp.answer) * FIELD_WEIGHTS["answer"]
    return tokenize(unit.title) * POLICY_TITLE_WEIGHT + tokenize(unit.text)


def _dense_texts(units: list[Unit]) -> tuple[list[tuple[str, str]], np.ndarray]:
    """(prompt, text) per vector and the unit each vector belongs to: every question of a point, every chunk."""
    texts, rows = [], []
    for i, unit in enumerate(units):
        if unit.kp:
            for question in unit.kp.questions:
                texts.append((QUERY_PROMPT, question))
                rows.append(i)
        else:
            texts.append((PASSAGE_PROMPT, f"{unit.title}\n{unit.text}"))
            rows.append(i)
    return texts, np.asarray(rows, dtype=np.int32)


def _encode(cache: EmbeddingCache, texts: list[tuple[str, str]]) -> np.ndarray:
    parts = []
    for prompt in (QUERY_PROMPT, PASSAGE_PROMPT):
        idx = [i for i, (p, _) in enumerate(texts) if p == prompt]
        if idx:
            parts.append((idx, cache.encode([texts[i][1] for i in idx], prompt)))
    dim = parts[0][1].shape[1]
    out = np.zeros((len(texts), dim), dtype=np.float32)
    for idx, vectors in parts:
        out[idx] = vectors
    return out


def _swap(out_root: Path, folder: Path) -> None:
    """Point `current` at the new build atomically; keep a few older builds for running processes."""
    link = current_link(out_root)
    tmp = out_root / f".current-{os.getpid()}"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(folder.relative_to(out_root), target_is_directory=True)
    os.replace(tmp, link)
    builds = sorted((p for p in (out_root / "builds").iterdir() if p.is_dir()), key=lambda p: p.name)
    for old in builds[:-KEEP_BUILDS]:
        if old.resolve() != folder.resolve():
            shutil.rmtree(old, ignore_errors=True)


def build_index(corpus: Corpus, out_root: Path, tokenizer: Tokenizer, embedder: Embedder,
                corpus_hash: str, dense_kind: str = "flat", k1: float = 1.2, b: float = 0.75,
                extra_manifest: dict | None = None) -> BuildReport:
    """Write a complete build under out_root/builds/, then make it current; the served build is untouched until then."""
    out_root = Path(out_root)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    units = [kp_unit(p) for p in corpus.points]
    for doc in corpus.policies:
        units += [chunk_unit(c, doc) for c in chunk_document(doc)]
    bm25 = BM25Index.build([bm25_document(u, tokenizer) for u in units], k1=k1, b=b)
    timings["bm25"] = time.perf_counter() - t0

    t1 = time.perf_counter()
    cache = EmbeddingCache(out_root / "embedding_cache.npz", embedder)
    texts, rows = _dense_texts(units)
    vectors = _encode(cache, texts)
    dense = DenseIndex.build(vectors, dense_kind)
    cache.save()
    timings["dense"] = time.perf_counter() - t1

    stamp = datetime.now(timezone.utc)
    build_id = f"{stamp:%Y%m%dT%H%M%S}-{corpus_hash[:8]}"
    folder = out_root / "builds" / build_id
    if folder.exists():
        shutil.rmtree(folder)
    manifest = {
        "format": FORMAT, "build_id": build_id, "built_at": stamp.isoformat(), "corpus_hash": corpus_hash,
        "model": embedder.name, "dimension": int(vectors.shape[1]), "dense_index": dense_kind,
        "bm25": {"k1": k1, "b": b, "field_weights": FIELD_WEIGHTS, "vocabulary": len(bm25.vocab)},
        "counts": {"knowledge_points": len(corpus.points), "policy_documents": len(corpus.policies),
                   "policy_chunks": sum(u.kind == "policy" for u in units), "vectors": int(len(rows)),
                   "service_items": len({p.item_code for p in corpus.points})},
        **(extra_manifest or {}),
    }
    t2 = time.perf_counter()
    tmp_folder = folder.with_name(folder.name + ".partial")
    shutil.rmtree(tmp_folder, ignore_errors=True)
    Snapshot(tmp_folder, manifest, units, bm25, dense, rows).save()
    os.replace(tmp_folder, folder)
    _swap(out_root, folder)
    timings["write"] = time.perf_counter() - t2
    timings["total"] = time.perf_counter() - t0
    log.info("index %s built: %d units, %d vectors in %.1fs", build_id, len(units), len(rows), timings["total"])
    return BuildReport(folder, len(corpus.points), manifest["counts"]["policy_chunks"], int(len(rows)),
                       len(bm25.vocab), timings, cache.hits, cache.misses)
