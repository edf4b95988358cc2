"""Full index build from scratch (empty embedding cache) and the rebuild after editing one point.

Builds into a temporary directory so the served index is not touched. Prints JSON.
"""
from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.runtime import embedder_for, make_tokenizer  # noqa: E402
from hotline.config import Config  # noqa: E402
from indexer.build import build_index, fingerprint  # noqa: E402
from kb.loader import load_corpus  # noqa: E402


def _edit_one_point(kb_dir: Path) -> str:
    """Append a sentence to the first answer of the first item file; returns the edited file."""
    path = sorted(kb_dir.rglob("*.yaml"))[0]
    text = path.read_text(encoding="utf-8")
    marker = "    answer: |-\n"
    at = text.index(marker) + len(marker)
    line_end = text.index("\n", at)
    path.write_text(text[:line_end] + "（基准测试修改）" + text[line_end:], encoding="utf-8")
    return str(path.relative_to(kb_dir))


def run() -> dict:
    config = Config.from_env()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        kb_dir = tmp / "kb"
        shutil.copytree(config.kb_dir, kb_dir)
        out = tmp / "index"
        t0 = time.perf_counter()
        tokenizer, embedder = make_tokenizer(config), embedder_for(config)
        setup_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        corpus = load_corpus(kb_dir)
        full = build_index(corpus, out, tokenizer, embedder, fingerprint(kb_dir, embedder.name))
        full_s = time.perf_counter() - t0 + setup_s
        edited = _edit_one_point(kb_dir)
        t0 = time.perf_counter()
        corpus = load_corpus(kb_dir)
        again = build_index(corpus, out, tokenizer, embedder, fingerprint(kb_dir, embedder.name))
        rebuild_s = time.perf_counter() - t0
    return {"knowledge_points": full.knowledge_points, "policy_chunks": full.policy_chunks, "vectors": full.vectors,
            "full_build_s": round(full_s, 1), "full_build_stages_s": {k: round(v, 1) for k, v in full.seconds.items()},
            "model_and_tokenizer_load_s": round(setup_s, 1),
            "rebuild_after_one_edit_s": round(rebuild_s, 1), "rebuild_encoded": again.cache_misses, "edited_file": edited}


if __name__ == "__main__":
    print(json.dumps(run(), indent=1, ensure_ascii=False))
