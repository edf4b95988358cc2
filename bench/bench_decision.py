"""Latency of one `hotline ask` decision (process start excluded) and the serving process's memory.

Runs every dev question (last turn, with earlier turns as context) through AnswerEngine.respond against the
served index, after a warm-up; reports p50/p95/p99 and peak RSS. Prints JSON.
"""
from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.dialogue import DialogueState, now_utc  # noqa: E402
from bot.evaluate import load_questions  # noqa: E402
from bot.runtime import load_runtime  # noqa: E402
from hotline.config import Config  # noqa: E402


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(dev: Path = Path("eval/dev")) -> dict:
    config = Config.from_env()
    t0 = time.perf_counter()
    runtime = load_runtime(config)
    load_s = time.perf_counter() - t0
    questions = [q for f in sorted(dev.glob("*.jsonl")) for q in load_questions(f)]
    engine = runtime.engine
    for q in questions[:20]:  # warm-up
        engine.respond(q["turns"][-1], DialogueState(), now_utc())
    times, by_type = [], {}
    for q in questions:
        state = DialogueState()
        for turn in q["turns"][:-1]:
            state = engine.respond(turn, state, now_utc()).state
        t = time.perf_counter()
        turn = engine.respond(q["turns"][-1], state, now_utc())
        ms = (time.perf_counter() - t) * 1000
        times.append(ms)
        by_type.setdefault(turn.type, []).append(ms)
    pct = lambda xs, p: round(float(np.percentile(xs, p)), 2)  # noqa: E731
    return {"questions": len(times), "index": runtime.snapshot.version,
            "units": len(runtime.snapshot.units), "vectors": int(len(runtime.snapshot.rows)),
            "load_s": round(load_s, 2), "p50_ms": pct(times, 50), "p95_ms": pct(times, 95), "p99_ms": pct(times, 99),
            "p50_ms_by_type": {k: pct(v, 50) for k, v in by_type.items()}, "peak_rss_mb": round(rss_mb(), 1)}


if __name__ == "__main__":
    print(json.dumps(run(), indent=1))
