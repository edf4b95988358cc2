"""Serve the app under gunicorn with several workers (`hotline serve`)."""
from __future__ import annotations

import os

from hotline.config import Config


def first_account(config: Config, engine) -> tuple[str, str] | None:
    """On a database without accounts, create a supervisor so the console can be opened at all."""
    import secrets

    from sqlalchemy.orm import sessionmaker

    from web.agents import AgentService

    agents = AgentService(sessionmaker(engine, expire_on_commit=False))
    if agents.count_agents():
        return None
    password = secrets.token_urlsafe(9)
    agents.add_agent("admin", password, [], role="supervisor", display_name="值班长")
    path = config.var_dir / "first_account.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"user admin\npassword {password}\n", encoding="utf-8")
    path.chmod(0o600)
    return "admin", password


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
    first = first_account(config, engine)
    engine.dispose()
    base = f"http://{host}:{port}"
    print(f"广州12345企业服务智能助手 serving on {base}\n"
          f"  web widget demo   {base}/\n"
          f"  agent console     {base}/agent\n"
          f"  dashboard         {base}/dashboard   (supervisors)\n"
          f"  knowledge editor  {base}/kb          (editors, supervisors)\n"
          f"  chat API          POST {base}/api/chat   {{\"message\": \"个体户怎么注销\", \"session_id\": null}}\n"
          f"  health            GET  {base}/healthz", flush=True)
    if first:
        print(f"\nfirst account created (supervisor, all queues): user {first[0]}  password {first[1]}\n"
              f"  kept in {config.var_dir / 'first_account.txt'}; add agents with: "
              f".venv/bin/hotline agent add NAME --queue 商事登记", flush=True)
    HotlineApplication().run()
    return 0
