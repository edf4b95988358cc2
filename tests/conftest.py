"""Shared fixtures: a tiny knowledge base, its index built with the fake embedder, the app and service."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hotline.config import Config

TINY_KB = Path(__file__).parent / "data" / "tiny_kb"


@pytest.fixture(scope="session")
def tokenizer(tmp_path_factory):
    from indexer.text import Tokenizer

    return Tokenizer(cache_dir=tmp_path_factory.mktemp("jieba"))


@pytest.fixture(scope="session")
def fake_embedder():
    from indexer.dense import FakeEmbedder

    return FakeEmbedder()


def make_config(var_dir: Path, kb_dir: Path = TINY_KB, **overrides) -> Config:
    env = {"HOTLINE_VAR_DIR": str(var_dir), "HOTLINE_KB_DIR": str(kb_dir), "HOTLINE_EMBEDDER": "fake",
           "HOTLINE_CALIBRATION": "none"}
    return Config.from_env(env, **overrides)


@pytest.fixture(scope="session")
def tiny_index(tmp_path_factory, tokenizer, fake_embedder):
    """The tiny corpus built once per test session; returns its Config."""
    from indexer.build import build_index, fingerprint
    from kb.loader import load_corpus

    var_dir = tmp_path_factory.mktemp("var")
    config = make_config(var_dir)
    corpus = load_corpus(TINY_KB)
    build_index(corpus, config.index_path, tokenizer, fake_embedder, fingerprint(TINY_KB, fake_embedder.name))
    return config


@pytest.fixture(scope="session")
def runtime(tiny_index, tokenizer, fake_embedder):
    from bot.runtime import load_runtime

    return load_runtime(tiny_index, embedder=fake_embedder, tokenizer=tokenizer)


@pytest.fixture()
def service(tiny_index, runtime, tmp_path):
    from dataclasses import replace

    from web.service import open_chat_service

    config = replace(tiny_index, database_url=f"sqlite:///{tmp_path / 'test.db'}")
    return open_chat_service(config, runtime=runtime)


@pytest.fixture()
def app(service):
    from web import create_app

    app = create_app(service.config, chat_service=service)
    app.config["TESTING"] = True
    return app


@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture()
def kb_copy(tmp_path) -> Path:
    """A writable copy of the tiny corpus for tests that edit it."""
    dest = tmp_path / "kb"
    shutil.copytree(TINY_KB, dest)
    return dest
