"""Editorial knowledge in the database: entries with a draft → reviewed → published → retired lifecycle and an
append-only revision history (who, when, status, full data; diff; restore)."""
from __future__ import annotations

import difflib
import json
from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from kb.overlay import KINDS, Entry, from_data
from web.db import Base, utcnow
from web.service import ChatInputError

STATUSES = ("draft", "reviewed", "published", "retired")
STATUS_ZH = {"draft": "草稿", "reviewed": "已审核", "published": "已发布", "retired": "已下线"}
# action → (statuses it may start from, status it leads to)
TRANSITIONS = {"review": (("draft",), "reviewed"), "publish": (("reviewed",), "published"),
               "retire": (("draft", "reviewed", "published"), "retired")}


class KbEntry(Base):
    __tablename__ = "kb_entries"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the knowledge point / policy document id
    kind: Mapped[str] = mapped_column(String(8))  # point | policy
    status: Mapped[str] = mapped_column(String(16), index=True)
    data: Mapped[dict] = mapped_column(JSON)  # the working copy
    published: Mapped[dict | None] = mapped_column(JSON)  # what was last published (kept while a new draft is edited)
    # what the service does with this id, independent of the working copy's status: none (nothing; a seed point
    # stays as it is), published (serve `published`), retired (serve nothing under this id, not even the seed)
    live: Mapped[str] = mapped_column(String(16), index=True)
    origin: Mapped[str] = mapped_column(String(16))  # yaml (edits a seed point) | new | import
    version: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)

    def as_json(self) -> dict:
        return {"id": self.id, "kind": self.kind, "status": self.status, "status_zh": STATUS_ZH[self.status],
                "data": self.data, "published": self.published, "live": self.live, "origin": self.origin,
                "version": self.version,
                "created_by": self.created_by, "created_at": self.created_at.isoformat(),
                "updated_by": self.updated_by, "updated_at": self.updated_at.isoformat(),
                "title": self.data.get("question") or self.data.get("title") or "",
                "problems": problems_of(self.kind, self.data)}


class KbRevision(Base):
    __tablename__ = "kb_revisions"
    __table_args__ = (UniqueConstraint("entry_id", "version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    entry_id: Mapped[str] = mapped_column(ForeignKey("kb_entries.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(16))  # create | edit | review | publish | retire | restore | import
    status: Mapped[str] = mapped_column(String(16))
    data: Mapped[dict] = mapped_column(JSON)
    author: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    def as_json(self) -> dict:
        return {"version": self.version, "action": self.action, "status": self.status,
                "status_zh": STATUS_ZH[self.status], "data": self.data, "author": self.author, "note": self.note,
                "created_at": self.created_at.isoformat()}


def problems_of(kind: str, data: dict) -> list[str]:
    """What the loader's rules find wrong with a record (empty: it could be served)."""
    from kb.importer.report import zh_problem

    record, problems = from_data(kind, data)
    errors = [zh_problem(p) for p in problems if p.severity == "error"]
    return errors or ([] if record is not None else ["记录不完整"])


def validate(kind: str, data: object, strict: bool = True) -> dict:
    """The record as stored. Strict (review, publish): a 400 listing every problem the loader's rules find.
    A draft may be incomplete (a gap's question without an answer yet) but needs its id."""
    if kind not in KINDS:
        raise ChatInputError("invalid_kind", f"未知类型 {kind!r}，可选：point（知识点）、policy（政策文件）")
    if not isinstance(data, dict):
        raise ChatInputError("invalid_entry", "data 必须是 JSON 对象")
    entry_id = data.get("id")
    if not isinstance(entry_id, str) or not entry_id.strip() or len(entry_id) > 64:
        raise ChatInputError("invalid_entry", "缺少条目编号 id（不超过64个字符）")
    if strict and (errors := problems_of(kind, data)):
        raise ChatInputError("invalid_entry", "校验未通过：" + "；".join(errors))
    return {k: v for k, v in data.items() if k != "source"}


def render(data: dict) -> list[str]:
    """A record as `field: value` lines (lists one item per line) for a readable diff."""
    lines = []
    for key in sorted(data):
        value = data[key]
        if isinstance(value, list):
            lines += [f"{key}[]: {v}" for v in value]
        elif isinstance(value, str) and "\n" in value:
            lines += [f"{key}: {part}" for part in value.split("\n")]
        else:
            lines.append(f"{key}: {'' if value is None else value}")
    return lines


class KnowledgeStore:
    """Every editorial change goes through here, as one transaction that also appends a revision."""

    def __init__(self, sessions: sessionmaker):
        self.sessions = sessions

    def close(self) -> None:
        self.sessions.kw["bind"].dispose()

    # --- reading ---------------------------------------------------------------------------------------
    def overlay(self) -> list[Entry]:
        """The entries that change the served corpus: published ones and retired ones (an edit or a restore of
        either changes nothing served until it is published)."""
        with self.sessions() as db:
            rows = db.scalars(select(KbEntry).where(KbEntry.live != "none").order_by(KbEntry.id))
            return [Entry(r.id, r.kind, r.live, r.published) for r in rows]

    def entries(self, q: str = "", status: str | None = None, limit: int = 200) -> list[dict]:
        with self.sessions() as db:
            stmt = select(KbEntry).order_by(KbEntry.updated_at.desc()).limit(limit)
            if status:
                stmt = stmt.where(KbEntry.status == status)
            rows = db.scalars(stmt).all()
        q = q.strip()
        out = [r.as_json() for r in rows]
        return [e for e in out if not q or q in e["id"] or q in json.dumps(e["data"], ensure_ascii=False)]

    def all_data(self) -> list[tuple[str, str, str, dict]]:
        """(kind, id, status, working data) of every entry, for duplicate checks of imports."""
        with self.sessions() as db:
            return [(r.kind, r.id, r.status, r.data) for r in db.scalars(select(KbEntry))]

    def get(self, entry_id: str) -> dict | None:
        with self.sessions() as db:
            row = db.get(KbEntry, entry_id)
            return row.as_json() if row else None

    def history(self, entry_id: str) -> list[dict]:
        with self.sessions() as db:
            self._entry(db, entry_id)
            revs = db.scalars(select(KbRevision).where(KbRevision.entry_id == entry_id).order_by(KbRevision.version))
            return [r.as_json() for r in revs]

    def diff(self, entry_id: str, old: int, new: int) -> dict:
        """Unified diff of two revisions' data, field by field."""
        with self.sessions() as db:
            a, b = (self._revision(db, entry_id, v) for v in (old, new))
            lines = list(difflib.unified_diff(render(a.data), render(b.data), lineterm="", n=1))[2:]  # no ---/+++
            changed = sorted(k for k in set(a.data) | set(b.data) if a.data.get(k) != b.data.get(k))
            return {"entry_id": entry_id, "old": old, "new": new, "changed": changed, "diff": lines,
                    "status": [a.status, b.status]}

    # --- writing ---------------------------------------------------------------------------------------
    def create(self, kind: str, data: dict, author: str, origin: str = "new", status: str = "draft",
               note: str = "", db: Session | None = None) -> dict:
        record = validate(kind, data, strict=status != "draft")
        if db is None:
            with self.sessions() as own:
                out = self.create(kind, data, author, origin, status, note, own)
                own.commit()
                return out
        if db.get(KbEntry, record["id"]) is not None:
            raise ChatInputError("entry_exists", f"条目 {record['id']} 已存在，请在其基础上编辑", 409)
        entry = KbEntry(id=record["id"], kind=kind, status=status, data=record, origin=origin, version=0,
                        published=record if status == "published" else None,
                        live="published" if status == "published" else "none",
                        created_by=author, updated_by=author, created_at=utcnow(), updated_at=utcnow())
        db.add(entry)
        self._revise(db, entry, "import" if origin == "import" else "create", author, note)
        return entry.as_json()

    def update(self, entry_id: str, data: dict, author: str, version: int | None = None, note: str = "",
               db: Session | None = None) -> dict:
        """A new working copy; it goes back to draft (what is published stays served until it is republished)."""
        if db is None:
            with self.sessions() as own:
                out = self.update(entry_id, data, author, version, note, own)
                own.commit()
                return out
        entry = self._entry(db, entry_id)
        if version is not None and version != entry.version:
            raise ChatInputError("edit_conflict", f"条目已被 {entry.updated_by} 修改（当前版本 {entry.version}），请刷新后再改", 409)
        record = validate(entry.kind, data, strict=False)
        if record.get("id") != entry_id:
            raise ChatInputError("invalid_entry", "不能修改条目编号（id）")
        entry.data, entry.status = record, "draft"
        self._touch(entry, author)
        self._revise(db, entry, "edit", author, note)
        return entry.as_json()

    def transition(self, entry_id: str, action: str, author: str, note: str = "",
                   check_publish=None) -> dict:
        """review / publish / retire; `check_publish(entry)` may refuse a publish (e.g. a duplicate question)."""
        if action not in TRANSITIONS:
            raise ChatInputError("invalid_action", f"未知操作 {action!r}，可选：{'、'.join(TRANSITIONS)}")
        allowed, target = TRANSITIONS[action]
        with self.sessions() as db:
            entry = self._entry(db, entry_id)
            if entry.status not in allowed:
                names = "、".join(STATUS_ZH[s] for s in allowed)
                raise ChatInputError("invalid_transition",
                                     f"条目当前为「{STATUS_ZH[entry.status]}」，只有{names}的条目可以{_ACTION_ZH[action]}", 409)
            if action in ("review", "publish"):
                validate(entry.kind, entry.data)
            if action == "publish":
                if check_publish:
                    check_publish(entry.kind, entry.data)
                entry.published = entry.data
            if action in ("publish", "retire"):
                entry.live = target
            entry.status = target
            self._touch(entry, author)
            self._revise(db, entry, action, author, note)
            db.commit()
            return entry.as_json()

    def restore(self, entry_id: str, version: int, author: str) -> dict:
        """An old revision's data becomes a new draft revision (history is never rewritten)."""
        with self.sessions() as db:
            old = self._revision(db, entry_id, version)
            entry = self._entry(db, entry_id)
            entry.data, entry.status = old.data, "draft"
            self._touch(entry, author)
            self._revise(db, entry, "restore", author, f"恢复自版本 {version}")
            db.commit()
            return entry.as_json()

    def add_similar(self, entry_id: str, base: dict | None, phrasing: str, author: str) -> dict:
        """Add a user's phrasing as a similar question of a point, as a draft. `base` is the served point's data,
        used when the point has no entry yet (a YAML seed point)."""
        phrasing = (phrasing or "").strip()
        if not phrasing or len(phrasing) > 300:
            raise ChatInputError("invalid_phrasing", "相似问不能为空，且不超过300字")
        with self.sessions() as db:
            entry = db.get(KbEntry, entry_id)
            if entry is None:
                if base is None:
                    raise ChatInputError("unknown_entry", f"知识点 {entry_id} 不存在", 404)
                self.create("point", base, author, origin="yaml", note="从已发布知识复制", db=db)
                db.flush()
                entry = self._entry(db, entry_id)
            if entry.kind != "point":
                raise ChatInputError("invalid_entry", "只有知识点可以添加相似问")
            data = dict(entry.data)
            if phrasing == data.get("question") or phrasing in data.get("similar", []):
                raise ChatInputError("duplicate_phrasing", "该问法已经是这个知识点的标准问或相似问", 409)
            data["similar"] = [*data.get("similar", []), phrasing]
            out = self.update(entry_id, data, author, note=f"加入相似问：{phrasing}", db=db)
            db.commit()
            return out

    def import_records(self, records: list[tuple[str, dict, str]], author: str, status: str, note: str) -> list[str]:
        """All rows of one import in one transaction: (kind, data, mode) where mode is "new" or "update"."""
        ids = []
        with self.sessions() as db:
            for kind, data, mode in records:
                if mode == "update" and db.get(KbEntry, data["id"]) is not None:
                    self.update(data["id"], data, author, note=note, db=db)
                else:  # a new point, or a revision of a seed point that has no entry yet
                    self.create(kind, data, author, origin="import", status="draft" if mode == "update" else status,
                                note=note, db=db)
                db.flush()
                ids.append(data["id"])
            db.commit()
        return ids

    # --- internals -------------------------------------------------------------------------------------
    @staticmethod
    def _entry(db: Session, entry_id: str) -> KbEntry:
        entry = db.get(KbEntry, entry_id)
        if entry is None:
            raise ChatInputError("unknown_entry", f"条目 {entry_id} 不存在", 404)
        return entry

    @staticmethod
    def _revision(db: Session, entry_id: str, version: int) -> KbRevision:
        rev = db.scalar(select(KbRevision).where(KbRevision.entry_id == entry_id, KbRevision.version == version))
        if rev is None:
            raise ChatInputError("unknown_revision", f"条目 {entry_id} 没有版本 {version}", 404)
        return rev

    @staticmethod
    def _touch(entry: KbEntry, author: str) -> None:
        entry.updated_by, entry.updated_at = author, utcnow()

    @staticmethod
    def _revise(db: Session, entry: KbEntry, action: str, author: str, note: str) -> None:
        entry.version += 1
        db.add(KbRevision(entry_id=entry.id, version=entry.version, action=action, status=entry.status,
                          data=entry.data, author=author, note=note, created_at=utcnow()))


_ACTION_ZH = {"review": "审核", "publish": "发布", "retire": "下线"}


def open_store(config) -> KnowledgeStore:
    """A store on the configured database, migrated to the newest schema (command line use)."""
    from web.db import make_engine, migrate

    engine = make_engine(config.db_url)
    migrate(engine)
    return KnowledgeStore(sessionmaker(engine, expire_on_commit=False))
