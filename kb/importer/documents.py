"""Policy documents from Markdown (with or without front matter), Word (.docx) and PDF."""
from __future__ import annotations

import hashlib
import re
from datetime import date
from pathlib import Path

import yaml

from kb.importer.common import FileIssue, Row
from kb.importer.tables import day

_FRONT = re.compile(r"^---\n(.*?)\n---\n(.*)$", re.S)
_ISSUERS = ("全国人民代表大会常务委员会", "全国人民代表大会", "国务院", "国家市场监督管理总局", "国家税务总局",
            "人力资源和社会保障部", "住房和城乡建设部", "自然资源部", "财政部", "广东省人民政府", "广州市人民政府")
_DOC_NUMBER = re.compile(r"((?:国务院|主席|国家[\u4e00-\u9fa5]{2,12}总局)令第\s*[\d一二三四五六七八九十百零]+\s*号"
                         r"|[\u4e00-\u9fa5]{2,12}〔\d{4}〕\d+号)")
_LINE_WORDS = (("公积金", "公积金"), ("社会保险", "社保"), ("社保", "社保"), ("发票", "税务"), ("税", "税务"),
               ("不动产", "不动产"), ("公司", "商事登记"), ("市场主体", "商事登记"), ("企业", "商事登记"),
               ("个体工商户", "商事登记"), ("登记", "商事登记"))
MAX_PDF_PAGES = 500  # text extraction runs inside the upload request
_CN_DATE = re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日")


def policy_id(title: str) -> str:
    """A stable id from the title, so importing a new version of a document finds the old one."""
    return "PD-" + hashlib.sha1(title.encode()).hexdigest()[:8].upper()


def _clean(text: str) -> str:
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    text = text.replace("\u200b", "").replace("\ufeff", "").replace("\u3000", " ")
    return re.sub(r"\n\s*\n(\s*\n)+", "\n\n", text).strip()


def derive_meta(text: str, file_stem: str) -> tuple[dict, str]:
    """Metadata of a document without front matter: title from its first heading (or the file name), date from
    the file name "(YYYY-MM-DD)" or its last 'YYYY年M月D日' before the body, issuer and document number from
    the preamble, business line from the title's words."""
    text = _clean(text)
    title_match = re.match(r"^#\s+(.+)$", text, re.M)
    stem_title = re.sub(r"[(（]\d{4}-\d{2}-\d{2}[)）]$", "", file_stem).strip()
    title = title_match.group(1).strip() if title_match else stem_title
    body = text[:title_match.start()] + text[title_match.end():] if title_match else text
    preamble = re.split(r"^##\s", body, maxsplit=1, flags=re.M)[0][:2000]
    issued: object = None
    if (m := re.search(r"[(（](\d{4}-\d{2}-\d{2})[)）]$", file_stem)):
        issued = m.group(1)
    elif dates := _CN_DATE.findall(preamble):
        issued = day("{}年{}月{}日".format(*dates[-1]))
    issuer = next((i for i in _ISSUERS if i in preamble), "未注明（导入时未识别出发布机关）")
    number = _DOC_NUMBER.search(preamble)
    line = next((ln for word, ln in _LINE_WORDS if word in title), "其他")
    meta = {"id": policy_id(title), "title": title, "issuer": issuer, "doc_number": number.group(1) if number else "",
            "date": issued, "line": line, "origin": f"《{title}》" if not title.startswith("《") else title}
    return meta, body.strip()


def policy_record(text: str, file_stem: str) -> dict:
    """A flat policy record from Markdown text; front matter fields win over derived ones."""
    match = _FRONT.match(text.replace("\r\n", "\n"))
    if not match:
        meta, body = derive_meta(text, file_stem)
        return {**meta, "body": body}
    front = yaml.safe_load(match.group(1)) or {}
    if not isinstance(front, dict):
        front = {}
    derived, body = derive_meta(match.group(2), file_stem)
    front = {("origin" if k == "source" else k): (v.isoformat() if isinstance(v, date) else v) for k, v in front.items()}
    return {**derived, **{k: v for k, v in front.items() if v not in (None, "")}, "body": body}


def read_markdown(path: Path, name: str) -> tuple[list[Row], list[FileIssue]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        return [], [FileIssue(name, "Markdown 文件必须是 UTF-8 编码")]
    if not text.strip():
        return [], [FileIssue(name, "文件为空")]
    try:
        return [Row(name, 1, "policy", policy_record(text, path.stem))], []
    except yaml.YAMLError as exc:
        return [], [FileIssue(name, f"文件头（front matter）不是合法的 YAML：{str(exc).splitlines()[0]}")]


def read_docx(path: Path, name: str) -> tuple[list[Row], list[FileIssue]]:
    """Paragraphs in order; Title / Heading 1 give the title, other headings become sections; table rows are
    kept as lines of cells."""
    from zipfile import BadZipFile

    import docx

    try:
        document = docx.Document(str(path))
    except (BadZipFile, KeyError, ValueError, OSError) as exc:
        return [], [FileIssue(name, f"无法读取 Word 文件（{type(exc).__name__}）：请确认是 .docx 格式（不支持旧的 .doc）")]
    title = (document.core_properties.title or "").strip()
    parts: list[str] = []
    for para in document.paragraphs:
        text = para.text.strip()
        if not text:
            continue
        style = (para.style.name if para.style is not None else "") or ""
        level = re.search(r"(\d)$", style)
        if style in ("Title", "标题") or (style.startswith(("Heading", "标题")) and level and level.group(1) == "1"):
            if not title:
                title = text
                continue
        if style.startswith(("Heading", "标题")):
            parts.append(f"## {text}")
        else:
            parts.append(text)
    for table in document.tables:
        for row in table.rows:
            cells = [c.text.strip() for c in row.cells if c.text.strip()]
            if cells:
                parts.append("；".join(dict.fromkeys(cells)))
    if not parts:
        return [], [FileIssue(name, "Word 文件中没有正文文字")]
    text = (f"# {title}\n\n" if title else "") + "\n\n".join(parts)
    return [Row(name, 1, "policy", policy_record(text, path.stem))], []


def _pdf_paragraphs(text: str) -> str:
    """PDF text comes line by line; join lines into paragraphs at sentence ends, keep chapter lines as headings."""
    out, buffer = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if re.match(r"^第[一二三四五六七八九十百]+章", line) and len(line) < 40:
            if buffer:
                out.append(buffer)
            out.append(f"## {line}")
            buffer = ""
            continue
        if re.match(r"^第[一二三四五六七八九十百零]+条", line) and buffer:
            out.append(buffer)
            buffer = ""
        buffer += line
        if line.endswith(("。", "；", "！", "？", ".", ":", "：")):
            out.append(buffer)
            buffer = ""
    if buffer:
        out.append(buffer)
    return "\n\n".join(out)


def read_pdf(path: Path, name: str) -> tuple[list[Row], list[FileIssue]]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted and not reader.decrypt(""):
            return [], [FileIssue(name, "PDF 已加密，请先解除密码保护再导入")]
        if len(reader.pages) > MAX_PDF_PAGES:
            return [], [FileIssue(name, f"PDF 页数过多：{len(reader.pages)} 页，一次最多 {MAX_PDF_PAGES} 页，请拆分后导入")]
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, ValueError, OSError, KeyError) as exc:
        return [], [FileIssue(name, f"无法读取 PDF 文件（{type(exc).__name__}）")]
    text = "\n".join(pages)
    if not text.strip():
        return [], [FileIssue(name, f"PDF 中没有可提取的文字（共 {len(pages)} 页，可能是扫描件）：请先做文字识别（OCR），"
                                    "或改为上传 Word / Markdown 版本")]
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    title = (reader.metadata.title if reader.metadata and reader.metadata.title else "") or lines[0]
    body = _pdf_paragraphs("\n".join(lines[1:] if lines[0] == title else lines))
    return [Row(name, 1, "policy", policy_record(f"# {title.strip()}\n\n{body}", path.stem))], []
