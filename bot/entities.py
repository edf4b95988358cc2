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
_LANDLINE_MASK_RE = re.compile(r"(?<!\d)(0\d{2,3}-?)\d{4}(\d{3,4})(?!\d)")
_LONG_ID_RE = re.compile(r"(?<![0-9A-Za-z])(?=[A-Za-z]*\d)([0-9A-Za-z]{4})[0-9A-Za-z]{9,13}([0-9A-Za-z]{2})(?![0-9A-Za-z])")
_EMAIL_RE = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+")


def mask_personal_data(text: str) -> str:
    """Phone numbers, e-mail addresses and 15-19 character ID / credit-code numbers masked for logs and reports."""
    text = _EMAIL_RE.sub("***@***", text)
    text = _LANDLINE_MASK_RE.sub(r"\1****\2", _PHONE_RE.sub(r"\1****\2", text))
    return _LONG_ID_RE.sub(r"\1****\2", text)


# ---- elements a ticket needs, extracted from every user message -------------------------------------
CREDIT_CODE_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # GB 32100-2015: no I, O, S, V, Z
_CREDIT_WEIGHTS = [pow(3, i, 31) for i in range(17)]
_CREDIT_RE = re.compile(r"(?<![0-9A-Za-z])[0-9A-Za-z]{18}(?![0-9A-Za-z])")
_COMPANY_RE = re.compile(r"[\u4e00-\u9fa5A-Za-z0-9（）()]{2,40}?(?:股份有限公司|有限责任公司|有限公司|分公司|合伙企业（有限合伙）|"
                         r"合伙企业|个人独资企业|农民专业合作社|商行|经营部|工作室)")
_COMPANY_LEAD = re.compile(r"^.*(我们公司(?:名称)?(?:叫|是)|我们是|我司|本公司|公司(?:名称|名字)?(?:叫做|叫|是)|名字叫|叫做|地址在|地址是|位于)")
_MOBILE_RE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
_LANDLINE_RE = re.compile(r"(?<!\d)0\d{2,3}-?\d{7,8}(?!\d)")
_ADDRESS_RE = re.compile(r"[\u4e00-\u9fa5\d]{2,24}?(?:路|街|大道|巷|里)[\u4e00-\u9fa5\d之\-]*?号(?:[\u4e00-\u9fa5\dA-Za-z\-]*?(?:楼|室|栋|层|铺))?")
# Well-known areas whose district is unambiguous (extend as agents report others).
AREA_DISTRICT = {
    "珠江新城": "天河", "体育西": "天河", "石牌": "天河", "五山": "天河", "车陂": "天河", "员村": "天河",
    "北京路": "越秀", "东山口": "越秀", "环市东": "越秀", "农林下路": "越秀", "流花": "越秀",
    "琶洲": "海珠", "江南西": "海珠", "赤岗": "海珠", "客村": "海珠",
    "上下九": "荔湾", "芳村": "荔湾", "西关": "荔湾", "沙面": "荔湾",
    "三元里": "白云", "京溪": "白云", "白云大道": "白云", "同和": "白云",
    "科学城": "黄埔", "知识城": "黄埔", "萝岗": "黄埔", "大沙地": "黄埔",
    "市桥": "番禺", "大石": "番禺", "祈福": "番禺", "南村": "番禺",
    "狮岭": "花都", "花东": "花都", "炭步": "花都",
    "黄阁": "南沙", "横沥": "南沙", "明珠湾": "南沙",
    "街口": "从化", "太平镇": "从化",
    "荔城": "增城", "新塘镇": "增城", "中新镇": "增城",
}


def credit_code_valid(code: str) -> bool:
    """The 18th character of a 统一社会信用代码 checks the first 17 (GB 32100-2015, weights 3^i mod 31)."""
    code = code.upper()
    if len(code) != 18 or any(ch not in CREDIT_CODE_CHARS for ch in code):
        return False
    total = sum(CREDIT_CODE_CHARS.index(ch) * w for ch, w in zip(code[:17], _CREDIT_WEIGHTS))
    return CREDIT_CODE_CHARS[(31 - total % 31) % 31] == code[17]


def district_of_place(text: str) -> str | None:
    """A district named outright, or the district of a well-known area or street in the text."""
    return find_district(text) or next((d for area, d in AREA_DISTRICT.items() if area in text), None)


def extract_elements(text: str) -> dict:
    """Company name, 统一社会信用代码 (with validity), phone, address and district found in one message."""
    found: dict = {}
    names = [_COMPANY_LEAD.sub("", m.group(0)) for m in _COMPANY_RE.finditer(text)]
    names = [n for n in names if len(n) >= 4 and n not in {"有限公司", "分公司", "股份有限公司", "有限责任公司"}]
    if names:
        found["company"] = max(names, key=len)
    for m in _CREDIT_RE.finditer(text):
        candidate = m.group(0).upper()
        if any(ch.isdigit() for ch in candidate):
            found["credit_code"] = candidate
            found["credit_code_valid"] = credit_code_valid(candidate)
            break
    if m := _MOBILE_RE.search(text) or _LANDLINE_RE.search(text):
        found["phone"] = m.group(0)
    if m := _ADDRESS_RE.search(text):
        found["address"] = _COMPANY_LEAD.sub("", m.group(0))
    if district := district_of_place(text):
        found["district"] = district
    return found
