"""Find the district and entity type a question is about."""
from __future__ import annotations

import re

from kb.model import DISTRICTS

# entity type → words people use for it (checked longest first)
ENTITY_WORDS = {
    "个体工商户": ("个体工商户", "个体户", "个体经营", "个体"),
    "个人独资": ("个人独资企业", "个人独资", "个独", "独资企业"),
    "合伙": ("有限合伙", "普通合伙", "合伙企业", "合伙"),
    "分公司": ("分公司", "分支机构", "分店"),
    "股份公司": ("股份有限公司", "股份公司"),
    "外商投资": ("外商投资企业", "外商投资", "外资企业", "外资公司", "外企", "港资", "台资", "外商独资"),
    "农民专业合作社": ("农民专业合作社", "专业合作社", "合作社"),
    "有限公司": ("有限责任公司", "一人有限公司", "一人公司", "有限公司"),
}
_ENTITY_RE = [(entity, re.compile("|".join(sorted(words, key=len, reverse=True)))) for entity, words in ENTITY_WORDS.items()]
_DISTRICT_RE = re.compile("|".join(f"{d}(?:区)?" for d in DISTRICTS) + "|广州开发区|开发区|南沙新区|自贸区")
_DISTRICT_ALIAS = {"广州开发区": "黄埔", "开发区": "黄埔", "南沙新区": "南沙", "自贸区": "南沙"}


def find_district(text: str) -> str | None:
    """The first Guangzhou district named in the text (区 optional), or None."""
    match = _DISTRICT_RE.search(text)
    if not match:
        return None
    word = match.group(0)
    return _DISTRICT_ALIAS.get(word, word.rstrip("区"))


def find_entity(text: str) -> str | None:
    """The entity type named in the text, or None; specific kinds win over 有限公司."""
    found = [(m.start(), entity) for entity, pattern in _ENTITY_RE if (m := pattern.search(text))]
    if not found:
        return None
    non_llc = [f for f in found if f[1] != "有限公司"]
    return min(non_llc or found)[1]


def entity_words(entity: str) -> tuple[str, ...]:
    return ENTITY_WORDS.get(entity, ())


# words that name a business line outright (a question naming 公积金 is about the housing fund)
LINE_WORDS = {
    "公积金": ("公积金", "公积", "住房公积"),
    "社保": ("社保", "社会保险", "五险", "养老保险", "医保", "医疗保险", "工伤", "失业保险", "生育保险", "参保"),
    "税务": ("税", "发票", "报税", "纳税", "申报表"),
    "不动产": ("不动产", "房产证", "产权证", "过户", "抵押登记", "土地证"),
}


def find_lines(text: str) -> frozenset[str]:
    """Business lines the text names outright (not the ones it merely relates to)."""
    return frozenset(line for line, words in LINE_WORDS.items() if any(w in text for w in words))


_PHONE_RE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")
_LONG_ID_RE = re.compile(r"(?<![0-9A-Za-z])([0-9A-Za-z]{4})[0-9A-Za-z]{10,13}([0-9A-Za-z]{2})(?![0-9A-Za-z])")


def mask_personal_data(text: str) -> str:
    """Phone numbers and 15-18 character ID / credit-code numbers masked for logs."""
    return _LONG_ID_RE.sub(r"\1****\2", _PHONE_RE.sub(r"\1****\2", text))
