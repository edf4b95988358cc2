"""Fit fusion weights, the confidence model and decision thresholds on the dev set; write bot/calibration.json.

    .venv/bin/python bench/calibrate.py [--dev eval/dev] [--write] [--folds 2]

Retrieval weight: the dense/BM25 mix with the best MRR. Confidence: logistic regression of "the top candidate
answers the question" on the top candidate's (cosine, normalised BM25), with out-of-domain lines as negatives.
Thresholds: the fallback threshold is the lowest that still sends >= 96% of out-of-domain lines to fallback;
answer threshold and clarify margin maximise correct answers minus 3x wrong answers, counting a clarify that
offers the right point as half a success. A k-fold check fits on part of the lines and reports the rest.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import replace
from datetime import date
from functools import lru_cache
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.decide import Thresholds, confidence, decide  # noqa: E402
from bot.dialogue import DialogueState, now_utc, read_message  # noqa: E402
from bot.evaluate import load_questions  # noqa: E402
from bot.intents import classify  # noqa: E402
from bot.runtime import load_runtime  # noqa: E402
from hotline.config import CALIBRATION_FILE, Config  # noqa: E402
from indexer.text import normalize  # noqa: E402

W_GRID = [round(x, 2) for x in np.arange(0.5, 1.01, 0.1)]  # below 0.5 was always worse on this corpus (measured)
OOD_TARGET = 0.96


class CachedEmbedder:
    """Same vectors as the real embedder, encoded once per text during calibration."""

    def __init__(self, inner):
        self.inner, self.name, self.dim = inner, inner.name, inner.dim
        self._encode = lru_cache(maxsize=None)(lambda text, prompt: inner.encode([text], prompt=prompt)[0])

    def encode(self, texts, prompt="query: "):
        return np.stack([self._encode(t, prompt) for t in texts])


def prepare(engine, questions):
    """(line, reading query, wanted ids or None) for every question line; context from earlier turns."""
    rows = []
    for q in questions:
        state = DialogueState()
        for turn in q["turns"][:-1]:
            state = engine.respond(turn, state, now_utc()).state
        text = normalize(q["turns"][-1])
        if classify(text).name != "question":
            continue
        reading = read_message(text, state)
        wanted = set(q["expect"].get("kb_ids", [])) or None
        if wanted is None and q["expect"].get("type") != "fallback":
            continue
        rows.append((q["id"], reading.as_query(), wanted))
    return rows


BOOST_GRID = [(d, e, ln) for d in (0.0, 0.01) for e in (0.0, 0.01, 0.03) for ln in (0.0, 0.01)]


def candidates_for(retriever, rows, w_dense, district_boost=None, entity_boost=None, line_boost=None):
    weights = replace(retriever.weights, w_dense=w_dense, w_bm25=round(1 - w_dense, 2))
    if district_boost is not None:
        weights = replace(weights, district_boost=district_boost, entity_boost=entity_boost, line_boost=line_boost)
    return [retriever.search(query, k=10, weights=weights) for _, query, _ in rows]


def mrr(rows, cands):
    scores = []
    for (_, _, wanted), cs in zip(rows, cands):
        if wanted:
            rank = next((i for i, c in enumerate(cs, 1) if c.unit.id in wanted), None)
            scores.append(1 / rank if rank else 0.0)
    return float(np.mean(scores)), float(np.mean([s == 1.0 for s in scores]))


def fit_confidence(rows, cands):
    from sklearn.linear_model import LogisticRegression

    x, y = [], []
    for (_, _, wanted), cs in zip(rows, cands):
        if not cs:
            continue
        x.append([cs[0].dense, cs[0].bm25, cs[0].coverage])
        y.append(int(bool(wanted) and cs[0].unit.id in wanted))
    model = LogisticRegression(C=10.0, max_iter=1000).fit(np.asarray(x), np.asarray(y))
    return {"conf_bias": float(model.intercept_[0]), "conf_dense": float(model.coef_[0][0]),
            "conf_bm25": float(model.coef_[0][1]), "conf_coverage": float(model.coef_[0][2])}


def outcome(rows, cands, t: Thresholds) -> dict:
    n_in = sum(1 for r in rows if r[2]) or 1
    n_ood = sum(1 for r in rows if not r[2]) or 1
    right = wrong = clarify_hit = clarify = fb_in = fb_ood = 0
    for (_, _, wanted), cs in zip(rows, cands):
        d = decide(cs, t)
        if not wanted:
            fb_ood += d.type == "fallback"
            continue
        if d.type == "answer":
            right += d.chosen[0].unit.id in wanted
            wrong += d.chosen[0].unit.id not in wanted
        elif d.type == "clarify":
            clarify += 1
            clarify_hit += any(c.unit.id in wanted for c in d.chosen)
        else:
            fb_in += 1
    return {"answer_correct": right / n_in, "answer_wrong": wrong / n_in, "clarify": clarify / n_in,
            "clarify_with_right_option": clarify_hit / n_in, "fallback_in_domain": fb_in / n_in,
            "ood_fell_back": fb_ood / n_ood, "utility": (right - 3 * wrong + 0.5 * clarify_hit) / n_in}


def fit_thresholds(rows, cands, conf: dict) -> dict:
    base = Thresholds(**{k: v for k, v in conf.items()})
    ood_conf = sorted(confidence(cs[0], base) for (_, _, w), cs in zip(rows, cands) if not w and cs)
    grid = sorted({round(c + 1e-4, 4) for c in ood_conf} | {0.05, 0.1, 0.15, 0.2, 0.25, 0.3})
    fallback = next((t for t in grid if sum(c < t for c in ood_conf) >= OOD_TARGET * len(ood_conf)), 0.5)
    best = None
    for answer in np.arange(max(fallback, 0.2), 0.96, 0.05):
        for margin in (0.0, 0.005, 0.01, 0.02, 0.03, 0.05):
            t = replace(base, fallback=fallback, answer=float(answer), clarify_margin=margin)
            score = outcome(rows, cands, t)["utility"]
            if best is None or score > best[0] + 1e-9:
                best = (score, float(answer), margin)
    return {"fallback_threshold": round(float(fallback), 4), "answer_threshold": round(best[1], 4),
            "clarify_margin": best[2]}


def fit(retriever, rows) -> tuple[dict, dict]:
    """Dense/BM25 mix first (at the configured boosts), then the district and entity-type boosts."""
    by_w = {w: candidates_for(retriever, rows, w) for w in W_GRID}
    table = {w: mrr(rows, cs) for w, cs in by_w.items()}
    w_best = max(W_GRID, key=lambda w: (round(table[w][0], 4), table[w][1], -abs(w - 0.5)))
    by_boost = {b: candidates_for(retriever, rows, w_best, *b) for b in BOOST_GRID}
    boost_table = {b: mrr(rows, cs) for b, cs in by_boost.items()}
    boost = max(BOOST_GRID, key=lambda b: (round(boost_table[b][0], 4), boost_table[b][1], -sum(b)))
    cands = by_boost[boost]
    conf = fit_confidence(rows, cands)
    thresholds = fit_thresholds(rows, cands, conf)
    params = {"w_dense": w_best, "w_bm25": round(1 - w_best, 2), "district_boost": boost[0], "entity_boost": boost[1],
              "line_boost": boost[2],
              **{k: round(v, 4) for k, v in conf.items()}, **thresholds}
    return params, {"mrr_by_w_dense": {str(w): round(v[0], 4) for w, v in table.items()},
                    "mrr_by_boosts": {f"district={b[0]},entity={b[1]},line={b[2]}": round(v[0], 4) for b, v in boost_table.items()}}


def thresholds_of(params) -> Thresholds:
    return Thresholds(conf_bias=params["conf_bias"], conf_dense=params["conf_dense"], conf_bm25=params["conf_bm25"],
                      conf_coverage=params["conf_coverage"],
                      answer=params["answer_threshold"], fallback=params["fallback_threshold"],
                      clarify_margin=params["clarify_margin"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dev", default="eval/dev")
    ap.add_argument("--write", action="store_true", help=f"write {CALIBRATION_FILE}")
    ap.add_argument("--folds", type=int, default=2)
    args = ap.parse_args()
    config = Config.from_env()
    runtime = load_runtime(config)
    retriever = runtime.engine.retriever
    retriever.embedder = CachedEmbedder(runtime.embedder)
    dev = Path(args.dev)
    questions = [q for f in sorted(dev.glob("*.jsonl")) if dev.is_dir() for q in load_questions(f)] or load_questions(dev)
    rows = prepare(runtime.engine, questions)
    params, info = fit(retriever, rows)
    all_cands = candidates_for(retriever, rows, params["w_dense"], params["district_boost"], params["entity_boost"], params["line_boost"])
    print(json.dumps({"params": params, **info, "fit_on_all": outcome(rows, all_cands, thresholds_of(params))},
                     ensure_ascii=False, indent=1))
    for fold in range(args.folds):  # fit on the other folds, report this one
        held = [int(hashlib.md5(r[0].encode()).hexdigest(), 16) % args.folds == fold for r in rows]
        train = [r for r, h in zip(rows, held) if not h]
        test = [r for r, h in zip(rows, held) if h]
        p, _ = fit(retriever, train)
        cands = candidates_for(retriever, test, p["w_dense"], p["district_boost"], p["entity_boost"], p["line_boost"])
        print(f"fold {fold}: fitted on {len(train)} lines, held-out {len(test)}: "
              f"MRR {mrr(test, cands)[0]:.3f}, {json.dumps({k: round(v, 3) for k, v in outcome(test, cands, thresholds_of(p)).items()})}")
    if args.write:
        meta = {"_fitted_on": {"lines": len(rows), "dev": str(dev), "model": runtime.snapshot.manifest["model"],
                               "index": runtime.snapshot.version, "date": date.today().isoformat()}}
        CALIBRATION_FILE.write_text(json.dumps({**params, **meta}, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {CALIBRATION_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
