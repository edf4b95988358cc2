"""Rows of the hotline's knowledge template (xlsx / csv / jsonl) as flat point records."""
from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from datetime import date, datetime
from pathlib import Path

from kb.importer.common import FileIssue, Row
from kb.model import CITY_WIDE, DISTRICTS

MAX_ROWS = 20_000
# template header (and common variants) → field of the flat point record
HEADERS = {
    "id": ("id", "编号", "知识点编号", "知识编号"),
    "question": ("question", "标准问", "标准问题", "问题", "标准问法"),
    "similar": ("similar", "相似问", "相似问题", "扩展问", "相似问法", "同义问"),
    "answer": ("answer", "答案", "标准答案", "回答", "答复", "答复内容"),
    "line": ("line", "业务线", "业务条线", "条线", "业务类别"),
    "item": ("item", "事项", "服务事项", "事项名称", "办理事项"),
    "item_code": ("item_code", "事项编码", "事项代码"),
    "district": ("district", "区", "区域", "所属区", "辖区", "适用区域"),
    "legal_basis": ("legal_basis", "依据", "政策依据", "法律依据", "办理依据"),
    "effective_from": ("effective_from", "生效日期", "生效时间", "施行日期"),
    "expires_on": ("expires_on", "失效日期", "失效时间", "截止日期"),
    "reviewed_on": ("reviewed_on", "复核日期", "审核日期"),
    "department": ("department", "部门", "主管部门", "办理部门", "责任部门"),
    "channel": ("channel", "渠道", "办理渠道", "办理途径"),
    "entity_types": ("entity_types", "主体类型", "适用主体", "市场主体类型"),
    "queue": ("queue", "队列", "坐席队列"),
    "tags": ("tags", "标签", "关键词"),
}
REQUIRED = ("question", "similar", "answer", "line", "item", "effective_from")
LABELS = {field: names[1] if len(names) > 1 else field for field, names in HEADERS.items()}
_ALIAS = {unicodedata.normalize("NFKC", name).lower(): field for field, names in HEADERS.items() for name in names}
_DATE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")
_LIST_SPLIT = re.compile(r"[、,，;；|｜/\n]+")


def header_field(name: object) -> str | None:
    """The record field a column header means; tolerant of spaces, '*', full-width forms and (必填)-style notes."""
    text = unicodedata.normalize("NFKC", str(name or "")).strip().lower()
    text = re.sub(r"[\s*＊]|[(（\[【].*?[)）\]】]", "", text)
    return _ALIAS.get(text)


def day(value: object) -> object:
    """Dates as YYYY-MM-DD; 2024/7/1, 2024.07.01 and 2024年7月1日 are read too. Anything else is passed on
    unchanged, so that the loader reports it as a bad date."""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = str(value).strip() if value is not None else ""
    match = _DATE.match(text)
    if match:
        y, m, d = (int(g) for g in match.groups())
        try:
            return date(y, m, d).isoformat()
        except ValueError:
            return text
    return text


def _district(value: str) -> str:
    text = value.strip()
    if text in ("", "广州", "广州市", "全市", "市级", "市本级"):
        return CITY_WIDE
    stripped = text.removeprefix("广州市").removesuffix("区")
    return stripped if stripped in DISTRICTS else text


def record_from_cells(cells: dict[str, object]) -> dict:
    """A flat point record from field → cell value (cells of unknown columns already dropped)."""
    rec: dict = {}
    for fld, value in cells.items():
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if fld in ("effective_from", "expires_on", "reviewed_on"):
            rec[fld] = day(value)
        elif fld == "similar":
            parts = value if isinstance(value, list) else re.split(r"[\n|｜]+", str(value))
            rec[fld] = [str(p).strip() for p in parts if str(p).strip()]
        elif fld in ("entity_types", "tags"):
            parts = value if isinstance(value, list) else _LIST_SPLIT.split(str(value))
            rec[fld] = [str(p).strip() for p in parts if str(p).strip()]
        elif fld == "district":
            rec[fld] = _district(str(value))
        elif isinstance(value, float) and value.is_integer():
            rec[fld] = str(int(value))
        else:
            rec[fld] = str(value).strip() if not isinstance(value, (list, dict)) else value
    return rec


def _table_rows(name: str, rows: list[list[object]], first_row: int = 1) -> tuple[list[Row], list[FileIssue]]:
    """The first non-empty row is the header; each later non-empty row becomes one record."""
    issues: list[FileIssue] = []
    body = [(first_row + i, r) for i, r in enumerate(rows)]
    body = [(n, r) for n, r in body if any(c is not None and str(c).strip() for c in r)]
    if not body:
        return [], [FileIssue(name, "文件为空：没有表头也没有数据行")]
    header_no, header = body[0]
    fields: list[str | None] = [header_field(h) for h in header]
    unknown = [str(h).strip() for h, f in zip(header, fields) if f is None and h is not None and str(h).strip()]
    if unknown:
        issues.append(FileIssue(name, f"未知列已忽略：{'、'.join(unknown)}；可用列：{'、'.join(LABELS.values())}", "warning"))
    missing = [LABELS[f] for f in REQUIRED if f not in fields]
    if missing:
        found = "、".join(str(h).strip() for h in header if h is not None and str(h).strip())
        issues.append(FileIssue(name, f"缺少必需的列：{'、'.join(missing)}（第{header_no}行表头为：{found}）"))
        return [], issues
    if len(body) - 1 > MAX_ROWS:
        issues.append(FileIssue(name, f"数据行过多：{len(body) - 1} 行，一次最多导入 {MAX_ROWS} 行，请拆分文件"))
        return [], issues
    if len(body) == 1:
        issues.append(FileIssue(name, "只有表头，没有数据行"))
    out = []
    for number, cells in body[1:]:
        values = {f: v for f, v in zip(fields, cells) if f is not None}
        out.append(Row(name, number, "point", record_from_cells(values)))
    return out, issues


def read_csv(path: Path, name: str) -> tuple[list[Row], list[FileIssue]]:
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        return [], [FileIssue(name, "无法识别文件编码，请另存为 UTF-8 编码的 CSV")]
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",\t;")
    except csv.Error:
        dialect = csv.excel
    return _table_rows(name, list(csv.reader(io.StringIO(text, newline=""), dialect)))


def read_xlsx(path: Path, name: str) -> tuple[list[Row], list[FileIssue]]:
    from zipfile import BadZipFile

    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (BadZipFile, KeyError, ValueError, OSError) as exc:
        return [], [FileIssue(name, f"无法读取 Excel 文件（{type(exc).__name__}）：请确认是 .xlsx 格式")]
    try:
        rows, issues = [], []
        for sheet in book.worksheets:
            cells = []
            for row in sheet.iter_rows(values_only=True):
                cells.append(list(row))
                if len(cells) > MAX_ROWS + 50:
                    break
            if not any(any(c is not None and str(c).strip() for c in r) for r in cells):
                continue
            found, problems = _table_rows(f"{name}［{sheet.title}］", cells)
            rows += found
            issues += problems
        if not rows and not issues:
            issues.append(FileIssue(name, "文件为空：工作簿中没有数据"))
        return rows, issues
    finally:
        book.close()


def read_jsonl(path: Path, name: str) -> tuple[list[Row], list[FileIssue]]:
    """One JSON object per line: a point (template or record field names) or a policy (with "body")."""
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError:
        return [], [FileIssue(name, "JSONL 文件必须是 UTF-8 编码")]
    rows: list[Row] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            rows.append(Row(name, number, "point", {}, [f"不是合法的 JSON：{exc.msg}（第{exc.colno}列）"]))
            continue
        if not isinstance(obj, dict):
            rows.append(Row(name, number, "point", {}, ["每行必须是一个 JSON 对象"]))
        elif obj.get("kind") == "policy" or "body" in obj:
            rows.append(Row(name, number, "policy", {k: v for k, v in obj.items() if k != "kind"}))
        else:
            fields = {header_field(k): v for k, v in obj.items()}
            unknown = [k for k in obj if header_field(k) is None and k != "kind"]
            rows.append(Row(name, number, "point", record_from_cells({f: v for f, v in fields.items() if f}),
                            [], [f"未知字段已忽略：{'、'.join(unknown)}"] if unknown else []))
    if not rows:
        return [], [FileIssue(name, "文件为空：没有任何记录")]
    return rows, []
