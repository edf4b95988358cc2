"""Browser-test support: the app served live on 127.0.0.1 and a headless Debian Chromium driven by Playwright.

The fixtures `browser` and `live_server` are registered for every test by tests/conftest.py; a test asks for
them and does `page = browser.new_page(); page.goto(live_server.url + "/")`. Screenshots go to `screenshot_path(name)`.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("HOTLINE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(os.environ.get("HOTLINE_TEST_ARTIFACTS")
                 or Path(__file__).resolve().parent.parent / "var" / "test-artifacts")


def chromium_missing_reason() -> str | None:
    """Why browser tests cannot run here, or None when they can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[test]')"
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return f"no Chromium at {CHROMIUM}: `apt-get install -y --no-install-recommends chromium` (make test does it)"
    return None


def screenshot_path(name: str) -> Path:
    """Where a test saves a screenshot (var/test-artifacts/screenshots/<name>.png unless HOTLINE_TEST_ARTIFACTS)."""
    folder = ARTIFACTS / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{name}.png"


@dataclass
class LiveServer:
    """The Flask app on a real socket, served by werkzeug in a background thread."""

    app: object
    url: str
    _server: object
    _thread: threading.Thread

    @classmethod
    def start(cls, app) -> "LiveServer":
        from werkzeug.serving import make_server

        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
        thread.start()
        return cls(app, f"http://127.0.0.1:{server.server_port}", server, thread)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    @property
    def chat_service(self):
        return self.app.extensions["chat_service"]

    @property
    def agent_service(self):
        return self.app.extensions["agent_service"]


@pytest.fixture(scope="session")
def live_server(tiny_index, runtime, tmp_path_factory) -> LiveServer:
    """The app as tests/conftest.py builds it (tiny KB, fake embedder) on an SQLite file, served on a free port.
    One per test run, shared by every browser test module (each test makes its own sessions and accounts)."""
    from web import create_app
    from web.service import open_chat_service

    db_file = tmp_path_factory.mktemp("live") / "live.db"
    config = replace(tiny_index, database_url=f"sqlite:///{db_file}")
    service = open_chat_service(config, runtime=runtime)
    server = LiveServer.start(create_app(config, chat_service=service))
    yield server
    server.stop()
    service.close()


def launch_chromium(playwright):
    """Headless Debian Chromium (Playwright's own browser download needs the internet, so it is never used);
    every launch gets a fresh temporary profile, and every `new_context()` is isolated from the others."""
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the run; use `browser.new_context()` for each independent user."""
    reason = chromium_missing_reason()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as manager:
        chromium = launch_chromium(manager)
        yield chromium
        chromium.close()
