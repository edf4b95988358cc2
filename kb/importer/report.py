"""Check parsed rows against the loader's rules and the existing knowledge: accepted, rejected, duplicates,
near-duplicates and conflicts."""
from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field

from kb.importer.common import FileIssue, Row
from kb.loader import Problem
from kb.overlay import from_data

NEAR_JACCARD = 0.7  # a flag for the editor, not a refusal: better one too many than one missed
INHERITED = ("department", "channel", "legal_basis")
STATUS_ZH = {"accepted": "可导入", "rejected": "有错误", "duplicate": "重复（跳过）", "near_duplicate": "疑似重复",
             "conflict": "与现有答案冲突（作为修订草稿）"}
FIELD_ZH = {"id": "编号", "question": "标准问", "similar": "相似问", "answer": "答案", "line": "业务线",
            "item": "事项", "item_code": "事项编码", "district": "区", "legal_basis": "依据",
            "effective_from": "生效日期", "expires_on": "失效日期", "reviewed_on": "复核日期", "department": "部门",
            "channel": "渠道", "entity_types": "主体类型", "queue": "队列", "tags": "标签", "title": "标题",
            "issuer": "发布机关", "date": "日期", "body": "正文", "doc_number": "文号"}


def norm(text: str) -> str:
    """Question identity: NFKC, lower case, no spaces or punctuation."""
    return re.sub(r"[\W_]+", "", unicodedata.normalize("NFKC", text or "").lower())


def bigrams(text: str) -> frozenset[str]:
    t = norm(text)
    return frozenset(t[i:i + 2] for i in range(len(t) - 1)) or frozenset([t])


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


# the loader's messages (English, for the YAML authors) as editors read them
_ZH = [
    (r"^is missing or empty$", "缺失或为空"), (r"^is missing; expected a date YYYY-MM-DD$", "缺失，应为日期 YYYY-MM-DD"),
    (r"^is missing$", "缺失"), (r"^is empty$", "为空"), (r"^must be a list of texts$", "应为文本列表"),
    (r"^bad date (.+); expected YYYY-MM-DD$", r"日期格式错误 \1，应为 YYYY-MM-DD（如 2024-07-01）"),
    (r"^unknown value (.+); expected one of (.+)$", r"未知取值 \1，可选：\2"),
    (r"^needs at least 2 similar questions, has (\d+)$", r"至少需要 2 个相似问，当前 \1 个"),
    (r"^repeats the standard question$", "与标准问相同"),
    (r"^(\S+) is not after effective_from (\S+)$", r"失效日期 \1 应晚于生效日期 \2"),
    (r"^'(.+)' must be <item code>-<digits>, e.g. (.+)$", r"编号 \1 须为“事项编码-数字”，如 \2"),
    (r"^(.+) must be upper-case letters, digits and '-'$", r"\1 只能由大写字母、数字和“-”组成"),
    (r"^must be text, got (.+)$", r"应为文本，实际为 \1"),
    (r"^duplicates (.+)$", r"与 \1 重复"),
    (r"^unknown field; expected one of (.+)$", r"未知字段，可用：\1"),
]


def zh(message: str) -> str:
    for pattern, replacement in _ZH:
        if re.match(pattern, message):
            return re.sub(pattern, replacement, message)
    return message


def zh_problem(p: Problem) -> str:
    return f"{FIELD_ZH.get(p.field, p.field)}：{zh(p.message)}"


_reason = zh_problem


@dataclass
class Outcome:
    file: str
    row: int
    kind: str
    status: str  # accepted | rejected | duplicate | near_duplicate | conflict
    data: dict
    reasons: list[str] = field(default_factory=list)
    match: str | None = None  # the existing (or earlier) entry it duplicates / conflicts with

    @property
    def id(self) -> str:
        return str(self.data.get("id") or "")

    @property
    def mode(self) -> str:
        """What confirming does: new entry, draft revision of an existing one, or nothing."""
        return {"duplicate": "skip", "conflict": "update", "rejected": "skip"}.get(self.status, "new")

    def as_json(self) -> dict:
        title = self.data.get("question") or self.data.get("title") or ""
        return {"file": self.file, "row": self.row, "kind": self.kind, "id": self.id, "title": title,
                "status": self.status, "status_zh": STATUS_ZH[self.status], "reasons": self.reasons,
                "match": self.match, "mode": self.mode}


@dataclass
class ImportReport:
    files: list[str]
    outcomes: list[Outcome]
    issues: list[FileIssue]

    @property
    def ok(self) -> bool:
        """Importable: no file error and no rejected row (an import is all or nothing)."""
        return (not any(i.severity == "error" for i in self.issues)
                and not any(o.status == "rejected" for o in self.outcomes))

    def counts(self) -> dict[str, int]:
        out = {s: 0 for s in STATUS_ZH}
        for o in self.outcomes:
            out[o.status] += 1
        return out

    def records(self) -> list[tuple[str, dict, str]]:
        return [(o.kind, o.data, o.mode) for o in self.outcomes if o.mode != "skip"]

    def as_json(self) -> dict:
        return {"ok": self.ok, "files": self.files, "counts": self.counts(),
                "issues": [i.as_json() for i in self.issues], "rows": [o.as_json() for o in self.outcomes]}


class Existing:
    """The knowledge an import is compared with: served points and policies plus every editorial entry."""

    def __init__(self, points: list[dict], policies: list[dict]):
        self.points = {p["id"]: p for p in points}
        self.policies = {d["id"]: d for d in policies}
        self.by_question: dict[str, str] = {}
        self.by_phrasing: dict[str, str] = {}
        self.by_answer: dict[str, str] = {}
        self.by_title = {norm(d.get("title", "")): d["id"] for d in policies}
        self.item_codes: dict[str, str] = {}
        self.item_points: dict[str, dict] = {}  # item name → one of its points, to inherit item-level fields
        self.numbers: dict[str, int] = defaultdict(int)
        self._grams: dict[str, list[tuple[str, frozenset[str]]]] = defaultdict(list)
        for p in points:
            self._add_point(p)

    @classmethod
    def from_corpus(cls, corpus, entries: list[tuple[str, str, str, dict]]) -> "Existing":
        """Served corpus + every editorial entry's working copy (drafts count: importing twice finds them)."""
        from kb.overlay import point_data, policy_data

        points = {p.id: point_data(p) for p in corpus.points}
        policies = {d.id: policy_data(d) for d in corpus.policies}
        for kind, entry_id, _status, data in entries:
            (points if kind == "point" else policies)[entry_id] = data
        return cls(list(points.values()), list(policies.values()))

    def _add_point(self, p: dict) -> None:
        pid = p["id"]
        self.by_question.setdefault(norm(p.get("question", "")), pid)
        self.by_answer.setdefault(norm(p.get("answer", "")), pid)
        for text in [p.get("question", ""), *p.get("similar", [])]:
            self.by_phrasing.setdefault(norm(text), pid)
            grams = bigrams(text)
            for g in grams:
                self._grams[g].append((pid, grams))
        if p.get("item") and p.get("item_code"):
            self.item_codes.setdefault(p["item"], p["item_code"])
            self.item_points.setdefault(p["item"], p)
        code, _, number = pid.rpartition("-")
        if number.isdigit():
            self.numbers[code] = max(self.numbers[code], int(number))

    def near(self, text: str) -> tuple[str, float] | None:
        """The existing point with the most similar phrasing (character-bigram Jaccard ≥ NEAR_JACCARD)."""
        grams = bigrams(text)
        best: tuple[str, float] | None = None
        seen: set[tuple[str, frozenset[str]]] = set()
        for g in grams:
            for cand in self._grams.get(g, ()):
                if cand in seen:
                    continue
                seen.add(cand)
                score = jaccard(grams, cand[1])
                if score >= NEAR_JACCARD and (best is None or score > best[1]):
                    best = (cand[0], score)
        return best

    def inherit(self, data: dict) -> tuple[dict, list[str]]:
        """Like a YAML point inheriting from its item: fields left empty take the value of the existing item."""
        base = self.item_points.get(data.get("item", ""))
        if base is None:
            return data, []
        filled = {k: base[k] for k in INHERITED if not data.get(k) and base.get(k)}
        note = [f"{'、'.join(FIELD_ZH[k] for k in filled)}沿用事项「{data['item']}」的现有值"] if filled else []
        return {**data, **filled}, note

    def new_point_id(self, data: dict) -> dict:
        """Fill item_code (the existing item of that name, or IMP-<hash> for a new item) and the next free id."""
        data = dict(data)
        code = data.get("item_code") or self.item_codes.get(data.get("item", ""))
        if not code:
            code = "IMP-" + hashlib.sha1(str(data.get("item", "")).encode()).hexdigest()[:6].upper()
        data["item_code"] = code
        if not data.get("id"):
            self.numbers[code] += 1
            data["id"] = f"{code}-{self.numbers[code]:03d}"
        return data


def _check_point(row: Row, existing: Existing, batch: dict[str, tuple[int, str]]) -> Outcome:
    data = dict(row.data)
    out = Outcome(row.file, row.row, "point", "accepted", data, list(row.errors))
    inherited: list[str] = []
    if out.reasons:
        out.status = "rejected"
        return out
    q = norm(data.get("question", ""))
    by_id = existing.points.get(data.get("id", ""))
    twin = by_id or existing.points.get(existing.by_question.get(q, ""))
    if twin is not None:  # the same point again: same answer → duplicate; a different answer → conflict
        merged = {**twin, **{k: v for k, v in data.items() if k not in ("id", "item_code")}}
        out.data = {**merged, "id": twin["id"], "item_code": twin.get("item_code", "")}
        same = norm(twin.get("answer", "")) == norm(data.get("answer", ""))
        out.status, out.match = ("duplicate" if same else "conflict"), twin["id"]
        how = "编号" if by_id is not None else "标准问"
        out.reasons.append(f"与现有知识点 {twin['id']} 的{how}相同" + ("，答案也相同" if same else "，但答案不同"))
    else:
        data, inherited = existing.inherit(data)
        out.data = existing.new_point_id(data)
    if q and q in batch and batch[q][1] != out.id:
        out.status, out.match = "rejected", batch[q][1]
        out.reasons.append(f"与本次导入的第{batch[q][0]}行标准问重复")
    record, problems = from_data("point", out.data, row.file)
    errors = [p for p in problems if p.severity == "error"]
    if errors or record is None:
        out.status = "rejected"
        out.reasons += [_reason(p) for p in errors] or ["校验未通过"]
        return out
    if out.status in ("duplicate", "conflict"):
        return out
    batch.setdefault(q, (row.row, out.id))
    answer_twin = existing.by_answer.get(norm(data.get("answer", "")))
    if answer_twin:
        out.status, out.match = "rejected", answer_twin
        out.reasons.append(f"答案与现有知识点 {answer_twin} 完全相同（每个知识点的答案须唯一）")
    elif (pid := existing.by_phrasing.get(q)) is not None:
        out.status, out.match = "near_duplicate", pid
        out.reasons.append(f"标准问与现有知识点 {pid} 的相似问相同")
    elif (near := existing.near(data.get("question", ""))) is not None:
        out.status, out.match = "near_duplicate", near[0]
        out.reasons.append(f"与现有知识点 {near[0]} 的问法高度相似（字符二元组相似度 {near[1]:.2f}）")
    out.reasons += inherited + row.notes
    return out


def _check_policy(row: Row, existing: Existing, batch: dict[str, tuple[int, str]]) -> Outcome:
    data = dict(row.data)
    out = Outcome(row.file, row.row, "policy", "accepted", data, list(row.errors))
    record, problems = from_data("policy", data, row.file)
    errors = [p for p in problems if p.severity == "error"]
    if out.reasons or errors or record is None:
        out.status = "rejected"
        out.reasons += [_reason(p) for p in errors]
        return out
    key = norm(data.get("title", ""))
    if key in batch:
        out.status, out.match = "rejected", batch[key][1]
        out.reasons.append(f"与本次导入的 {batch[key][1]} 标题相同")
        return out
    batch[key] = (row.row, out.id)
    twin = existing.policies.get(out.id) or existing.policies.get(existing.by_title.get(key, ""))
    if twin is not None:
        out.data["id"] = twin["id"]
        same = norm(twin.get("body", "")) == norm(data.get("body", ""))
        out.status, out.match = ("duplicate" if same else "conflict"), twin["id"]
        out.reasons.append(f"与现有政策文件 {twin['id']} 同名" + ("，内容相同" if same else "，内容不同"))
    return out


def check_rows(files: list[str], rows: list[Row], issues: list[FileIssue], existing: Existing) -> ImportReport:
    batch_points: dict[str, tuple[int, str]] = {}
    batch_policies: dict[str, tuple[int, str]] = {}
    outcomes = [_check_point(r, existing, batch_points) if r.kind == "point" else _check_policy(r, existing, batch_policies)
                for r in rows]
    return ImportReport(files, outcomes, issues)
