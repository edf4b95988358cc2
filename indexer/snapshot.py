"""An index build on disk: the served knowledge, BM25 and vector indexes, and its manifest."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

import numpy as np

from indexer.bm25 import BM25Index
from indexer.chunking import Chunk
from indexer.dense import DenseIndex
from kb.model import KnowledgePoint, PolicyDocument

FORMAT = 1


@dataclass(frozen=True)
class Unit:
    """One retrievable thing: a knowledge point or a policy chunk."""

    id: str
    kind: str  # "kp" or "policy"
    title: str
    text: str
    kp: KnowledgePoint | None = None
    doc: dict | None = None  # policy metadata: title, issuer, doc_number, date, line

    @property
    def line(self) -> str:
        return self.kp.line if self.kp else (self.doc or {}).get("line", "其他")

    @property
    def legal_basis(self) -> str | None:
        if self.kp:
            return self.kp.legal_basis or None
        doc = self.doc or {}
        return doc.get("origin") or None


def kp_unit(point: KnowledgePoint) -> Unit:
    return Unit(point.id, "kp", point.question, point.answer, kp=point)


def chunk_unit(chunk: Chunk, doc: PolicyDocument) -> Unit:
    meta = {"title": doc.title, "issuer": doc.issuer, "doc_number": doc.doc_number, "date": doc.date.isoformat(),
            "line": doc.line, "origin": doc.origin, "heading": chunk.heading}
    return Unit(chunk.id, "policy", doc.title + (f" · {chunk.heading}" if chunk.heading else ""), chunk.text, doc=meta)


def _unit_to_json(unit: Unit) -> dict:
    record = {"id": unit.id, "kind": unit.kind, "title": unit.title, "text": unit.text, "doc": unit.doc}
    if unit.kp:
        kp = asdict(unit.kp)
        for key in ("effective_from", "expires_on", "reviewed_on"):
            kp[key] = kp[key].isoformat() if kp[key] else None
        record["kp"] = kp
    return record


def _unit_from_json(record: dict) -> Unit:
    kp = None
    if record.get("kp"):
        raw = dict(record["kp"])
        for key in ("effective_from", "expires_on", "reviewed_on"):
            raw[key] = date.fromisoformat(raw[key]) if raw[key] else None
        for key in ("similar", "entity_types", "tags"):
            raw[key] = tuple(raw[key])
        kp = KnowledgePoint(**raw)
    return Unit(record["id"], record["kind"], record["title"], record["text"], kp=kp, doc=record.get("doc"))


@dataclass
class Snapshot:
    """Everything a query needs, loaded once per process and shared read-only."""

    folder: Path
    manifest: dict
    units: list[Unit]
    bm25: BM25Index
    dense: DenseIndex
    rows: np.ndarray  # dense vector row → unit index

    @property
    def version(self) -> str:
        return self.manifest["build_id"]

    def save(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        with (self.folder / "units.jsonl").open("w", encoding="utf-8") as out:
            for unit in self.units:
                out.write(json.dumps(_unit_to_json(unit), ensure_ascii=False) + "\n")
        self.bm25.save(self.folder)
        self.dense.save(self.folder / "dense.faiss")
        np.save(self.folder / "dense_rows.npy", self.rows, allow_pickle=False)
        (self.folder / "manifest.json").write_text(json.dumps(self.manifest, ensure_ascii=False, indent=1), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> "Snapshot":
        folder = Path(folder).resolve()
        manifest_path = folder / "manifest.json"
        if not manifest_path.exists():
            raise FileNotFoundError(f"no index at {folder}; build it with `hotline index`")
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if manifest.get("format") != FORMAT:
            raise ValueError(f"index at {folder} has format {manifest.get('format')}, expected {FORMAT}; rebuild it")
        with (folder / "units.jsonl").open(encoding="utf-8") as lines:
            units = [_unit_from_json(json.loads(line)) for line in lines]
        return cls(folder, manifest, units, BM25Index.load(folder), DenseIndex.load(folder / "dense.faiss"),
                   np.load(folder / "dense_rows.npy", allow_pickle=False))
