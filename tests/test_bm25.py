"""The served BM25 agrees with rank-bm25 (the reference) and never scores a keyword hit zero."""
import numpy as np
from rank_bm25 import BM25Okapi

from indexer.bm25 import BM25Index, rank_bm25_reference

DOCS = [
    "有限公司 注销 材料 清算 报告".split(),
    "个体工商户 注销 材料 营业执照".split(),
    "住房公积金 缴存 比例 单位".split(),
    "社会保险 登记 单位 职工 参保".split(),
    "简易注销 公示 二十 日".split(),
    "年报 公示 六月 三十日 企业".split(),
]


def test_keyword_hit_scores_above_zero_on_a_tiny_corpus():
    docs = [["营业执照", "遗失"], ["公积金", "提取"]]
    ours = BM25Index.build(docs).scores(["营业执照"])
    assert ours[0] > 0 and ours[1] == 0
    # rank-bm25's plain Okapi idf is log(1)=0 here: the real match would score 0
    assert BM25Okapi(docs).get_scores(["营业执照"])[0] == 0


def test_scores_match_rank_bm25_reference():
    index = BM25Index.build(DOCS, k1=1.2, b=0.75)
    reference = rank_bm25_reference(DOCS, k1=1.2, b=0.75)
    for query in (["注销", "材料"], ["公示"], ["单位", "比例", "比例"], ["不存在"], ["注销", "个体工商户", "营业执照"]):
        np.testing.assert_allclose(index.scores(query), reference.get_scores(query), rtol=1e-5, atol=1e-6)
        assert list(np.argsort(-index.scores(query), kind="stable")) == list(np.argsort(-reference.get_scores(query), kind="stable"))


def test_save_and_load_round_trip(tmp_path):
    index = BM25Index.build(DOCS)
    index.save(tmp_path)
    loaded = BM25Index.load(tmp_path)
    np.testing.assert_allclose(loaded.scores(["注销", "公示"]), index.scores(["注销", "公示"]))
    assert not list(tmp_path.glob("*.pkl"))


def test_ceiling_bounds_every_score():
    index = BM25Index.build(DOCS)
    for query in (["注销", "材料"], ["公示", "天气"]):
        assert index.scores(query).max() <= index.ceiling(query)
    assert index.ceiling(["天气"]) > 0  # unknown words count against a match
