"""Shared fixtures: a tiny knowledge base, its index built with the fake embedder, the app and service."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from browser_support import browser, live_server  # noqa: F401 - the browser fixtures, one each per run

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
    overrides.setdefault("agent_hours", "")  # agents around the clock, so tests don't depend on the hour they run
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


PG_ADMIN_URL = os.environ.get("HOTLINE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="session")
def pg_database():
    """A throw-away PostgreSQL database for this test run; skips with the reason when no server answers."""
    from sqlalchemy import text

    from web.db import make_engine

    admin = make_engine(PG_ADMIN_URL).execution_options(isolation_level="AUTOCOMMIT")
    name = f"hotline_test_{os.getpid()}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
            conn.execute(text(f"CREATE DATABASE {name}"))
    except Exception as exc:  # noqa: BLE001 - any connection failure means: no server here
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL} ({type(exc).__name__}); set HOTLINE_TEST_PG_URL")
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    yield url
    make_engine(url).dispose()
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    from sqlalchemy import text

    from web.db import Base, load_models, make_engine

    load_models()
    url = request.getfixturevalue("pg_database")
    engine = make_engine(url)
    Base.metadata.drop_all(engine)  # every test starts from an empty database
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    engine.dispose()
    return url


@pytest.fixture()
def service(tiny_index, runtime, database_url):
    from dataclasses import replace

    from web.service import open_chat_service

    config = replace(tiny_index, database_url=database_url)
    chat_service = open_chat_service(config, runtime=runtime)
    yield chat_service
    chat_service.close()


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
