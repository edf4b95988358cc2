"""Normalisation and the domain tokenizer."""
from indexer.text import normalize


def test_normalize_traditional_fullwidth_and_case():
    assert normalize("營業執照遺失　ＡＢＣ１２３") == "营业执照遗失 abc123"


def test_domain_words_stay_whole(tokenizer):
    tokens = tokenizer("统一社会信用代码在哪里查")
    assert "统一社会信用代码" in tokens


def test_colloquial_words_map_to_canonical(tokenizer):
    assert "法定代表人" in tokenizer("公司法人怎么换")
    assert "营业执照" in tokenizer("执照丢了")
    assert "住房公积金" in tokenizer("公积金比例")
    assert "个体工商户" in tokenizer("个体户注销")


def test_traditional_query_tokenizes_like_simplified(tokenizer):
    assert tokenizer("營業執照遺失補領") == tokenizer("营业执照遗失补领")


def test_punctuation_emoji_and_stopwords_dropped(tokenizer):
    assert tokenizer("？？？😀😀！！") == []
    assert "的" not in tokenizer("公司的年报")
