"""Shared records of an import: parsed rows and problems with a whole file."""
from __future__ import annotations

from dataclasses import dataclass, field

MAX_FILE_BYTES = 20 * 1024 * 1024
SUFFIXES = (".xlsx", ".csv", ".jsonl", ".md", ".docx", ".pdf")


@dataclass
class Row:
    """One record read from a file: a point or a policy document, not yet validated."""

    file: str
    row: int  # line / spreadsheet row number (1-based, header included); 1 for a whole document
    kind: str  # point | policy
    data: dict
    errors: list[str] = field(default_factory=list)  # found while reading (bad JSON …)
    notes: list[str] = field(default_factory=list)  # worth telling, not blocking


@dataclass(frozen=True)
class FileIssue:
    """Something wrong with a whole file; an "error" blocks the import."""

    file: str
    message: str
    severity: str = "error"

    def as_json(self) -> dict:
        return {"file": self.file, "message": self.message, "severity": self.severity}
