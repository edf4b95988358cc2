"""Import knowledge from the hotline template (xlsx/csv), JSONL, Markdown, Word and PDF, with a report first."""
from __future__ import annotations

from pathlib import Path

from kb.importer.common import MAX_FILE_BYTES, SUFFIXES, FileIssue, Row
from kb.importer.documents import read_docx, read_markdown, read_pdf
from kb.importer.report import Existing, ImportReport, check_rows
from kb.importer.tables import read_csv, read_jsonl, read_xlsx

READERS = {".xlsx": read_xlsx, ".csv": read_csv, ".jsonl": read_jsonl, ".md": read_markdown,
           ".docx": read_docx, ".pdf": read_pdf}

__all__ = ["Existing", "FileIssue", "ImportReport", "MAX_FILE_BYTES", "Row", "expand", "read_files", "build_report"]


def expand(paths: list[Path]) -> tuple[list[Path], list[FileIssue]]:
    """Files to read: folders give their supported files (README.md, a folder's description, is skipped)."""
    files, issues = [], []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
            for p in found:
                if p.name.lower() == "readme.md":
                    issues.append(FileIssue(str(p), "说明文件 README.md 已跳过", "warning"))
                else:
                    files.append(p)
            if not found:
                issues.append(FileIssue(str(path), f"文件夹中没有可导入的文件（支持 {'、'.join(SUFFIXES)}）"))
        else:
            files.append(path)
    return files, issues


def read_file(path: Path, name: str | None = None) -> tuple[list[Row], list[FileIssue]]:
    """Rows of one file; size, emptiness and type are checked before anything is parsed."""
    name = name or str(path)
    suffix = path.suffix.lower()
    if suffix not in READERS:
        return [], [FileIssue(name, f"不支持的文件类型 {suffix or '（无扩展名）'}；支持 {'、'.join(SUFFIXES)}")]
    if not path.is_file():
        return [], [FileIssue(name, "文件不存在")]
    size = path.stat().st_size
    if size == 0:
        return [], [FileIssue(name, "文件为空（0 字节）")]
    if size > MAX_FILE_BYTES:
        return [], [FileIssue(name, f"文件过大：{size / 1048576:.1f} MB，单个文件上限 {MAX_FILE_BYTES // 1048576} MB，"
                                    "请拆分后分批导入")]
    return READERS[suffix](path, name)


def read_files(paths: list[Path], names: list[str] | None = None) -> tuple[list[str], list[Row], list[FileIssue]]:
    files, issues = expand(paths)
    rows: list[Row] = []
    shown = []
    for i, path in enumerate(files):
        name = names[i] if names and len(names) == len(files) else str(path)
        found, problems = read_file(path, name)
        rows += found
        issues += problems
        shown.append(name)
    return shown, rows, issues


def build_report(paths: list[Path], existing: Existing, names: list[str] | None = None) -> ImportReport:
    """Read and check every file; nothing is changed."""
    shown, rows, issues = read_files(paths, names)
    return check_rows(shown, rows, issues, existing)
