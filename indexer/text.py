"""Text normalisation and the domain tokenizer shared by indexing and querying."""
from __future__ import annotations

import logging
import re
import unicodedata
from functools import lru_cache
from pathlib import Path

HERE = Path(__file__).resolve().parent
DOMAIN_DICT = HERE / "domain_dict.txt"
SYNONYMS = HERE / "synonyms.tsv"
_PUNCT_RE = re.compile(r"[\s\W_]+", re.UNICODE)
STOPWORDS = frozenset(
    "的 了 吗 呢 吧 啊 呀 么 嘛 哦 哈 是 在 我 我们 你 你们 他 她 它 请问 请 问 一下 怎么 怎么样 怎样 如何 什么 哪些 "
    "哪里 哪儿 多少 可以 能 能否 能不能 要 需要 需不需要 吗 和 与 及 或 或者 还是 有 没有 有没有 该 应该 这个 那个 这 那 "
    "就 都 也 还 又 给 把 被 让 对 从 到 为 为了 以 之 等 个 些 里 上 下 中 吗 啥 咋 咋办 怎么办 办 办理 情况 问题 谢谢 您好 你好".split()
)


@lru_cache(maxsize=1)
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


def normalize(text: str) -> str:
    """Traditional→simplified, full-width→half-width (NFKC), lower case, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text)
    text = _t2s().convert(text)
    return re.sub(r"\s+", " ", text).strip().lower()


def load_synonyms(path: Path = SYNONYMS) -> dict[str, str]:
    pairs = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        if raw.strip() and not raw.startswith("#"):
            colloquial, canonical = raw.split("\t")
            pairs[colloquial.strip()] = canonical.strip()
    return pairs


class Tokenizer:
    """A private jieba tokenizer with the domain dictionary and the synonym map."""

    def __init__(self, dictionary: Path = DOMAIN_DICT, synonyms: Path = SYNONYMS, cache_dir: Path | None = None):
        import jieba

        jieba.setLogLevel(logging.WARNING)
        self._jieba = jieba.Tokenizer()
        if cache_dir:
            cache_dir.mkdir(parents=True, exist_ok=True)
            self._jieba.tmp_dir = str(cache_dir)
        self.synonyms = load_synonyms(synonyms)
        for raw in dictionary.read_text(encoding="utf-8").splitlines():
            parts = raw.split()
            if parts and not raw.startswith("#"):
                self._jieba.add_word(parts[0], int(parts[1]) if len(parts) > 1 else None)
        for word in {*self.synonyms, *self.synonyms.values()}:
            self._jieba.add_word(word, 1500)

    def tokenize(self, text: str) -> list[str]:
        """Normalised search tokens: jieba search-mode words, synonyms mapped, stop words and punctuation dropped."""
        tokens = []
        for piece in _PUNCT_RE.split(normalize(text)):
            if not piece:
                continue
            for word in self._jieba.cut_for_search(piece, HMM=True):
                word = self.synonyms.get(word, word)
                if word and word not in STOPWORDS:
                    tokens.append(word)
        return tokens

    def __call__(self, text: str) -> list[str]:
        return self.tokenize(text)
