"""Index hot swap and background rebuilds: every worker notices a new var/index/current and swaps its engine
without a restart; builds run in a separate process, never inside a request."""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path
from typing import Callable

from bot.engine import AnswerEngine
from hotline.config import ROOT, Config
from indexer.build import build_lock, current_link

log = logging.getLogger(__name__)


class IndexWatcher:
    """Checks (at most every `interval` seconds, one readlink) whether `current` points at another build; a new
    build is loaded in a background thread and swapped in by rebinding `service.engine`. A request reads
    `service.engine` once, so requests in flight finish on the engine they started with."""

    def __init__(self, service, config: Config, interval: float | None = None,
                 loader: Callable[[Path], AnswerEngine] | None = None):
        self.service = service
        self.config = config
        self.interval = config.index_check_seconds if interval is None else interval
        self.loader = loader or self._load_engine
        self.current = Path(service.engine.retriever.snapshot.folder).resolve()
        self.swaps = 0
        self.last_error: str | None = None
        self._lock = threading.Lock()
        self._next = 0.0
        self._busy = False
        self._failed: Path | None = None
        self._expiry_rebuild_on: date | None = None

    def check(self) -> None:
        if self.interval <= 0:
            return
        now = time.monotonic()
        if now < self._next:
            return
        with self._lock:
            if now < self._next or self._busy:
                return
            self._next = now + self.interval
            try:
                target = current_link(self.config.index_path).resolve(strict=True)
            except (FileNotFoundError, RuntimeError):
                return
            if target in (self.current, self._failed):
                self._rebuild_if_expired()
                return
            self._busy = True
        threading.Thread(target=self.swap_to, args=(target,), name="index-swap", daemon=True).start()

    def swap_to(self, folder: Path) -> bool:
        """Load the build in `folder` and make it the service's engine (called off the request path)."""
        try:
            engine = self.loader(folder)
            self.service.engine = engine  # one attribute rebind: atomic for every thread
            self.current, self.last_error = folder, None
            self.swaps += 1
            log.info("index %s swapped in", folder.name)
            return True
        except Exception as exc:  # noqa: BLE001 - a broken build must not take the worker down; keep serving
            self._failed, self.last_error = folder, f"{type(exc).__name__}: {exc}"
            log.exception("could not load index %s; still serving %s", folder, self.current.name)
            return False
        finally:
            self._busy = False

    def _load_engine(self, folder: Path) -> AnswerEngine:
        from bot.runtime import load_runtime

        old = self.service.engine.retriever  # the embedder and tokenizer are loaded once and shared
        return load_runtime(self.config, index_folder=folder, embedder=old.embedder, tokenizer=old.tokenizer).engine

    def _rebuild_if_expired(self) -> None:
        """A point expired (or a published one came into force) since the build: rebuild once that day."""
        until = self.service.engine.retriever.snapshot.manifest.get("valid_until")
        today = date.today()
        if until and today.isoformat() >= until and self._expiry_rebuild_on != today:
            self._expiry_rebuild_on = today
            log.info("index valid until %s: starting a rebuild", until)
            start_rebuild(self.config)


def rebuild_env(config: Config) -> dict[str, str]:
    """The environment that makes a `hotline index` child build exactly this service's index."""
    env = dict(os.environ)
    env.update({"HOTLINE_VAR_DIR": str(config.var_dir), "HOTLINE_KB_DIR": str(config.kb_dir),
                "HOTLINE_INDEX_DIR": str(config.index_path), "DATABASE_URL": config.db_url,
                "HOTLINE_EMBEDDER": config.embedder, "HOTLINE_EMBED_MODEL": str(config.model_path),
                "HOTLINE_BM25_K1": str(config.bm25_k1), "HOTLINE_BM25_B": str(config.bm25_b),
                "HOTLINE_TORCH_THREADS": "1"})  # leave the other cores to the workers answering
    return env


def build_running(config: Config) -> bool:
    with build_lock(config.index_path) as free:
        return not free


def start_rebuild(config: Config) -> bool:
    """Start `hotline index --if-stale` as a separate process (its output in <index>/last_build.log); False
    when a build is already running. The process takes the build lock itself, so builds never overlap."""
    if build_running(config):
        return False
    log_path = config.index_path / "last_build.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "hotline.cli", "index", "--if-stale"], cwd=ROOT,
                                env=rebuild_env(config), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    threading.Thread(target=proc.wait, name="index-build-reaper", daemon=True).start()
    log.info("index rebuild started (pid %d)", proc.pid)
    return True


def last_build_log(config: Config, limit: int = 4000) -> str:
    path = config.index_path / "last_build.log"
    return path.read_text(encoding="utf-8", errors="replace")[-limit:] if path.exists() else ""


def init_app(app, service, config: Config) -> IndexWatcher:
    """Register the watcher: a cheap check before each request."""
    watcher = IndexWatcher(service, config)
    app.extensions["index_watcher"] = watcher
    app.before_request(watcher.check)
    return watcher
