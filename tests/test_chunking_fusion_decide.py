"""Policy chunking, fusion and the named decision rules."""
from datetime import date

from bot import fusion
from bot.decide import Thresholds, confidence, decide
from bot.retrieve import Candidate
from indexer.chunking import MAX_CHARS, chunk_document
from indexer.snapshot import Unit
from kb.model import PolicyDocument


def test_chunks_keep_title_and_respect_boundaries():
    body = "## 一、总则\n\n" + "第一段。" * 30 + "\n\n第二段很短。\n\n## 二、期限\n\n" + "很长的一句话没有标点" * 60
    doc = PolicyDocument("PD-X", "某某制度解读", "编写", "", date(2024, 1, 1), "其他", body)
    chunks = chunk_document(doc)
    assert len(chunks) >= 3
    assert all(c.title == "某某制度解读" and c.full_text.startswith("《某某制度解读》") for c in chunks)
    assert all(len(c.text) <= MAX_CHARS for c in chunks)
    assert {c.heading for c in chunks} == {"一、总则", "二、期限"}
    assert [c.id for c in chunks] == [f"PD-X#{i}" for i in range(1, len(chunks) + 1)]


def test_rrf_is_deterministic_on_ties():
    scores = fusion.rrf([["b", "a"], ["a", "b"]])
    assert scores["a"] == scores["b"]
    assert [doc for doc, _ in fusion.ranked(scores)] == ["a", "b"]


def test_weighted_fusion_counts_missing_side_as_zero():
    fused = fusion.weighted({"a": 0.9}, {"a": 0.5, "b": 1.0}, 0.6, 0.4)
    assert fused == {"a": 0.6 * 0.9 + 0.4 * 0.5, "b": 0.4}


def _cand(uid, title, score, dense, bm25):
    return Candidate(Unit(uid, "kp", title, "answer " + uid), score, dense, bm25)


T = Thresholds(conf_bias=-8, conf_dense=10, conf_bm25=4, answer=0.5, fallback=0.25, clarify_margin=0.03)


def test_confident_single_match_answers():
    d = decide([_cand("A", "甲", 0.9, 0.95, 0.8), _cand("B", "乙", 0.6, 0.7, 0.1)], T)
    assert (d.type, d.reason, d.chosen[0].unit.id) == ("answer", "confident", "A")


def test_close_candidates_clarify_with_options():
    d = decide([_cand("A", "甲", 0.90, 0.95, 0.8), _cand("B", "乙", 0.89, 0.94, 0.8), _cand("C", "丙", 0.5, 0.5, 0.1)], T)
    assert d.type == "clarify" and d.reason == "ambiguous_top_candidates"
    assert [c.unit.id for c in d.chosen] == ["A", "B"]


def test_weak_match_falls_back():
    d = decide([_cand("A", "甲", 0.3, 0.5, 0.1)], T)
    assert (d.type, d.reason) == ("fallback", "below_fallback_threshold")
    assert d.confidence == confidence(_cand("A", "甲", 0.3, 0.5, 0.1), T)
    assert decide([], T).reason == "no_candidates"


def test_middling_match_asks_instead_of_answering():
    c = _cand("A", "甲", 0.6, 0.7, 0.2)
    assert T.fallback <= confidence(c, T) < T.answer
    assert decide([c], T).type == "clarify"
