"""Load the heavy parts once per process (index, tokenizer, embedder) and assemble the engine."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from bot.decide import Thresholds
from bot.engine import AnswerEngine
from bot.retrieve import HybridRetriever, Weights
from hotline.config import Config
from indexer.build import current_link
from indexer.dense import Embedder, make_embedder
from indexer.snapshot import Snapshot
from indexer.text import Tokenizer

log = logging.getLogger(__name__)


def weights_from(config: Config) -> Weights:
    return Weights(w_dense=config.w_dense, w_bm25=config.w_bm25, district_boost=config.district_boost,
                   entity_boost=config.entity_boost, candidates=config.candidates,
                   second_weight=config.second_weight, line_boost=config.line_boost)


def thresholds_from(config: Config) -> Thresholds:
    return Thresholds(conf_bias=config.conf_bias, conf_dense=config.conf_dense, conf_bm25=config.conf_bm25,
                      conf_coverage=config.conf_coverage,
                      answer=config.answer_threshold, fallback=config.fallback_threshold,
                      clarify_margin=config.clarify_margin)


def make_tokenizer(config: Config) -> Tokenizer:
    return Tokenizer(cache_dir=config.var_dir / "cache")


def embedder_for(config: Config) -> Embedder:
    embedder = make_embedder(config.embedder, config.model_path, config.torch_threads)
    return embedder.load()


@dataclass
class Runtime:
    """The loaded, read-only parts a process answers with."""

    config: Config
    snapshot: Snapshot
    tokenizer: Tokenizer
    embedder: Embedder
    engine: AnswerEngine


def load_runtime(config: Config, index_folder: Path | None = None, embedder: Embedder | None = None,
                 tokenizer: Tokenizer | None = None) -> Runtime:
    folder = index_folder or current_link(config.index_path)
    snapshot = Snapshot.load(folder)
    embedder = embedder or embedder_for(config)
    if snapshot.manifest.get("model") != embedder.name:
        raise ValueError(f"index {snapshot.version} was built with model {snapshot.manifest.get('model')!r} "
                         f"but the configured embedder is {embedder.name!r}; rebuild with `hotline index`")
    tokenizer = tokenizer or make_tokenizer(config)
    retriever = HybridRetriever(snapshot, tokenizer, embedder, weights_from(config))
    engine = AnswerEngine(retriever, thresholds_from(config), config.session_idle_minutes)
    log.info("loaded index %s (%d units) with %s", snapshot.version, len(snapshot.units), embedder.name)
    return Runtime(config, snapshot, tokenizer, embedder, engine)
