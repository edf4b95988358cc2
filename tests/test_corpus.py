"""The shipped knowledge base: complete, valid, no duplicate answers, the demand mix, statute citations."""
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from kb.loader import load_corpus
from kb.model import LINES

ROOT = Path(__file__).resolve().parent.parent
KB = ROOT / "knowledge_data"
DEV = ROOT / "eval" / "dev"


@pytest.fixture(scope="module")
def corpus():
    return load_corpus(KB)


def test_size_and_coverage(corpus):
    assert len(corpus.points) >= 5000
    assert len({p.item_code for p in corpus.points}) >= 100
    assert len(corpus.policies) >= 20


def test_demand_mix_about_half_commercial_registration(corpus):
    by_line = Counter(p.line for p in corpus.points)
    share = by_line["商事登记"] / len(corpus.points)
    assert 0.40 <= share <= 0.60, by_line
    assert set(by_line) <= set(LINES) and all(by_line[line] > 0 for line in ("公积金", "社保", "税务", "不动产"))


def test_no_two_points_share_an_answer_or_a_question(corpus):
    answers = Counter(p.answer for p in corpus.points)
    questions = Counter(p.question for p in corpus.points)
    assert [a[:40] for a, n in answers.items() if n > 1] == []
    assert [q for q, n in questions.items() if n > 1] == []


def test_every_point_cites_a_statute_or_document(corpus):
    cited = re.compile(r"《.+》|〔\d{4}〕\d+号|公告\d{4}年第\d+号|令第\d+号")
    missing = [p.id for p in corpus.points if not cited.search(p.legal_basis)]
    assert missing == []


def test_every_point_has_real_similar_questions(corpus):
    thin = [p.id for p in corpus.points if len(set(p.similar)) < 2 or p.question in p.similar]
    assert thin == []


def test_no_invented_local_phone_numbers(corpus):
    """Only national service numbers may appear; a local landline (020-xxxxxxxx) would be unverified."""
    landline = re.compile(r"020[-－ ]?\d{7,8}|\(020\)")
    assert [p.id for p in corpus.points if landline.search(p.answer)] == []


def test_dev_set_is_large_and_points_at_real_points(corpus):
    lines = [json.loads(raw) for f in sorted(DEV.glob("*.jsonl")) for raw in f.read_text(encoding="utf-8").splitlines() if raw.strip()]
    assert len(lines) >= 400
    ids = set(corpus.by_id)
    unknown = [(q["id"], k) for q in lines for k in q["expect"].get("kb_ids", []) if k not in ids]
    assert unknown == []
    assert len({q["id"] for q in lines}) == len(lines)
    kinds = Counter(next(iter(q["expect"])) for q in lines)
    assert kinds["kb_ids"] >= 300 and kinds["type"] >= 50
