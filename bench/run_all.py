"""Run every benchmark and the dev-set evaluation; write bench/results.json (`make bench`)."""
from __future__ import annotations

import json
import platform
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _run(args: list[str]) -> dict:
    out = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main() -> int:
    results = {
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": __import__("os").cpu_count(), "python": platform.python_version()},
        "eval_dev": _run(["-m", "hotline.cli", "eval", "eval/dev", "--json"]),
        "decision": _run([str(HERE / "bench_decision.py")]),
        "index_build": _run([str(HERE / "bench_index.py")]),
        "bm25_synthetic": _run([str(HERE / "bench_bm25.py")]),
        "load": _run([str(HERE / "bench_load.py"), "--seconds", "20"]),
        "dashboard": _run([str(HERE / "bench_dashboard.py")]),  # 1M messages in var/bench_dashboard.db, kept
    }
    results["eval_dev"].pop("failures", None)
    (HERE / "results.json").write_text(json.dumps(results, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(results, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
