"""`python -m kb validate [DIR]`: check the knowledge source files and list every problem."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from kb.loader import CorpusError, load_corpus
from kb.stats import corpus_stats


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in {"validate", "stats"}:
        print("usage: python -m kb validate|stats [DIR]", file=sys.stderr)
        return 2
    root = Path(args[1]) if len(args) > 1 else Path(__file__).resolve().parent.parent / "knowledge_data"
    try:
        corpus = load_corpus(root)
    except CorpusError as exc:
        for problem in exc.problems:
            print(problem)
        print(f"{sum(p.severity == 'error' for p in exc.problems)} error(s)", file=sys.stderr)
        return 1
    for warning in corpus.warnings:
        print(warning, file=sys.stderr)
    print(json.dumps(corpus_stats(corpus), ensure_ascii=False, indent=1 if args[0] == "stats" else None))
    return 0


if __name__ == "__main__":
    sys.exit(main())
