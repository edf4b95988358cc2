"""`hotline eval`: run a question set through the engine; report recall, decisions and latency."""
from __future__ import annotations

import json
import re
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from bot.dialogue import DialogueState, now_utc, read_message
from bot.engine import AnswerEngine
from bot.intents import classify
from bot.retrieve import Weights
from hotline.config import Config
from indexer.text import normalize

VARIANTS = {"hybrid": None, "bm25_only": (0.0, 1.0), "vector_only": (1.0, 0.0)}


def load_questions(path: Path) -> list[dict]:
    lines = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{number}: not valid JSON ({exc.msg})") from exc
        if not isinstance(record.get("turns"), list) or not record["turns"] or not isinstance(record.get("expect"), dict):
            raise ValueError(f"{path}:{number}: each line needs 'turns' (non-empty list) and 'expect' (object)")
        lines.append(record)
    return lines


def _rank(ids: list[str], wanted: set[str]) -> int | None:
    return next((i for i, x in enumerate(ids, 1) if x in wanted), None)


def _final_state(engine: AnswerEngine, turns: list[str]) -> DialogueState:
    state = DialogueState()
    for turn in turns[:-1]:
        state = engine.respond(turn, state, now_utc()).state
    return state


def evaluate(engine: AnswerEngine, questions: list[dict], baselines: bool = True) -> dict:
    """Metrics for the hybrid (and optionally the two single-retriever baselines)."""
    base_w: Weights = engine.retriever.weights
    variants = VARIANTS if baselines else {"hybrid": None}
    ranks: dict[str, list[int | None]] = {v: [] for v in variants}
    types: dict[str, list[tuple[str, str, bool | None]]] = {"in_domain": [], "fallback": [], "chitchat": [], "handoff": [], "must": []}
    latencies: list[float] = []
    failures: list[dict] = []
    for q in questions:
        expect, turns = q["expect"], q["turns"]
        state = _final_state(engine, turns)
        t0 = time.perf_counter()
        turn = engine.respond(turns[-1], state, now_utc())
        latencies.append((time.perf_counter() - t0) * 1000)
        if "kb_ids" in expect:
            wanted = set(expect["kb_ids"])
            text = normalize(turns[-1])
            reading = read_message(text, state)
            is_question = classify(text).name == "question"
            for name, weights in variants.items():
                w = base_w if weights is None else replace(base_w, w_dense=weights[0], w_bm25=weights[1])
                cands = engine.retriever.search(reading.as_query(), k=10, weights=w)
                ranks[name].append(_rank([c.unit.id for c in cands], wanted) if is_question else None)
            correct = turn.type == "answer" and bool(turn.sources) and turn.sources[0]["id"] in wanted
            types["in_domain"].append((turn.type, q["id"], correct))
            if ranks["hybrid"][-1] != 1:
                failures.append({"id": q["id"], "q": turns[-1], "want": sorted(wanted), "got": [s["id"] for s in turn.sources][:3], "type": turn.type})
        elif "type" in expect:
            bucket = expect["type"] if expect["type"] in types else "in_domain"
            types[bucket].append((turn.type, q["id"], turn.type == expect["type"]))
        elif "must" in expect:
            ok = all(re.search(p, turn.reply) for p in expect["must"])
            types["must"].append((turn.type, q["id"], ok))
    return _summarise(ranks, types, latencies, failures)


def _retrieval(ranks: list[int | None]) -> dict:
    n = len(ranks)
    if not n:
        return {"n": 0}
    return {"n": n,
            "recall@1": round(sum(r == 1 for r in ranks) / n, 4),
            "recall@5": round(sum(r is not None and r <= 5 for r in ranks) / n, 4),
            "mrr": round(sum(1 / r for r in ranks if r) / n, 4)}


def _summarise(ranks, types, latencies, failures) -> dict:
    ind = types["in_domain"]
    n = len(ind) or 1
    all_fallbacks = [t for bucket in types.values() for t in bucket if t[0] == "fallback"]
    ood = types["fallback"]
    report = {
        "retrieval": {name: _retrieval(r) for name, r in ranks.items()},
        "decisions_in_domain": {
            "n": len(ind),
            "answer_rate": round(sum(t[0] == "answer" for t in ind) / n, 4),
            "clarify_rate": round(sum(t[0] == "clarify" for t in ind) / n, 4),
            "fallback_rate": round(sum(t[0] == "fallback" for t in ind) / n, 4),
            "answer_accuracy": round(sum(bool(t[2]) for t in ind if t[0] == "answer") / max(1, sum(t[0] == "answer" for t in ind)), 4),
        },
        "out_of_domain": {"n": len(ood), "fell_back": round(sum(t[0] == "fallback" for t in ood) / max(1, len(ood)), 4),
                          "fallback_precision": round(sum(1 for t in all_fallbacks if t in ood) / max(1, len(all_fallbacks)), 4)},
        "chitchat_accuracy": round(sum(t[2] for t in types["chitchat"]) / max(1, len(types["chitchat"])), 4),
        "handoff_accuracy": round(sum(t[2] for t in types["handoff"]) / max(1, len(types["handoff"])), 4),
        "must_accuracy": round(sum(t[2] for t in types["must"]) / max(1, len(types["must"])), 4) if types["must"] else None,
        "latency_ms": {"p50": round(float(np.percentile(latencies, 50)), 2) if latencies else None,
                       "p95": round(float(np.percentile(latencies, 95)), 2) if latencies else None},
        "failures": failures,
        "misclassified": {k: [t[1] for t in v if t[2] is False] for k, v in types.items() if k != "in_domain"},
    }
    return report


def evaluate_file(config: Config, path: Path, baselines: bool = True) -> dict:
    from bot.runtime import load_runtime

    questions = []
    for file in sorted(path.glob("*.jsonl")) if path.is_dir() else [path]:
        questions += load_questions(file)
    runtime = load_runtime(config)
    return evaluate(runtime.engine, questions, baselines)


def format_report(report: dict) -> str:
    out = ["retrieval (in-domain lines):"]
    for name, r in report["retrieval"].items():
        if r.get("n"):
            out.append(f"  {name:12s} n={r['n']}  Recall@1={r['recall@1']:.3f}  Recall@5={r['recall@5']:.3f}  MRR={r['mrr']:.3f}")
    d = report["decisions_in_domain"]
    out.append(f"decisions (in-domain, n={d['n']}): answer {d['answer_rate']:.1%}  clarify {d['clarify_rate']:.1%}  "
               f"fallback {d['fallback_rate']:.1%}  answer accuracy {d['answer_accuracy']:.1%}")
    o = report["out_of_domain"]
    out.append(f"out-of-domain (n={o['n']}): fell back {o['fell_back']:.1%}; fallback precision {o['fallback_precision']:.1%}")
    out.append(f"chitchat accuracy {report['chitchat_accuracy']:.1%}; handoff accuracy {report['handoff_accuracy']:.1%}")
    lat = report["latency_ms"]
    out.append(f"latency per decision: p50 {lat['p50']} ms, p95 {lat['p95']} ms")
    return "\n".join(out)
