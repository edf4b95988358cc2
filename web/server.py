"""Serve the app under gunicorn with several workers (`hotline serve`)."""
from __future__ import annotations

import os

from hotline.config import Config


def serve(config: Config, host: str, port: int, workers: int | None = None) -> int:
    from dataclasses import replace

    from gunicorn.app.base import BaseApplication

    from web import create_app

    workers = workers or int(os.environ.get("HOTLINE_WORKERS", "2"))
    if not config.torch_threads:
        config = replace(config, torch_threads=max(1, (os.cpu_count() or 1) // workers))

    class HotlineApplication(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("timeout", 60)
            self.cfg.set("accesslog", "-" if os.environ.get("HOTLINE_ACCESS_LOG") else None)

        def load(self):
            return create_app(config)

    from web.db import make_engine, migrate

    engine = make_engine(config.db_url)  # migrate once here, before the workers start
    migrate(engine)
    engine.dispose()
    base = f"http://{host}:{port}"
    print(f"广州12345企业服务智能助手 serving on {base}\n"
          f"  chat API   POST {base}/api/chat   {{\"message\": \"个体户怎么注销\", \"session_id\": null}}\n"
          f"  health     GET  {base}/healthz", flush=True)
    HotlineApplication().run()
    return 0
