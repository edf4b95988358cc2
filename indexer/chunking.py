"""Split policy documents into retrieval chunks at section and paragraph boundaries."""
from __future__ import annotations

import re
from dataclasses import dataclass

from kb.model import PolicyDocument

MAX_CHARS = 400


@dataclass(frozen=True)
class Chunk:
    id: str  # "<doc id>#<n>"
    doc_id: str
    title: str  # the document title, kept with every chunk
    heading: str
    text: str

    @property
    def full_text(self) -> str:
        head = f"《{self.title}》" + (f" {self.heading}" if self.heading else "")
        return f"{head}\n{self.text}"


def _paragraphs(section: str) -> list[str]:
    paras = [p.strip() for p in re.split(r"\n\s*\n", section) if p.strip()]
    out: list[str] = []
    for para in paras:
        while len(para) > MAX_CHARS:  # an over-long paragraph is cut at the last sentence end before the limit
            cut = max(para.rfind(mark, 0, MAX_CHARS) for mark in "。；！？")
            cut = cut + 1 if cut > MAX_CHARS // 3 else MAX_CHARS
            out.append(para[:cut])
            para = para[cut:].strip()
        if para:
            out.append(para)
    return out


def chunk_document(doc: PolicyDocument) -> list[Chunk]:
    """Chunks of at most ~MAX_CHARS; short neighbouring paragraphs of one section are merged."""
    chunks: list[Chunk] = []
    sections = re.split(r"^#{1,6}\s*(.+)$", doc.body, flags=re.M)
    pairs = [("", sections[0])] + list(zip(sections[1::2], sections[2::2]))
    for heading, body in pairs:
        buffer = ""
        for para in _paragraphs(body):
            if buffer and len(buffer) + len(para) + 1 > MAX_CHARS:
                chunks.append(Chunk(f"{doc.id}#{len(chunks) + 1}", doc.id, doc.title, heading.strip(), buffer))
                buffer = ""
            buffer = f"{buffer}\n{para}".strip()
        if buffer:
            chunks.append(Chunk(f"{doc.id}#{len(chunks) + 1}", doc.id, doc.title, heading.strip(), buffer))
    return chunks
