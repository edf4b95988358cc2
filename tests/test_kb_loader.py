"""Loading validates everything and names file, line, entry and field for every problem."""
from datetime import date

import pytest

from kb.loader import CorpusError, load_corpus
from tests.conftest import TINY_KB


def test_tiny_corpus_loads_with_inherited_fields():
    corpus = load_corpus(TINY_KB, today=date(2026, 12, 4))
    assert len(corpus.points) == 7 and len(corpus.policies) == 1
    point = corpus.by_id["T-GJJ-001"]
    assert point.queue == "公积金" and point.department == "广州住房公积金管理中心"
    assert point.legal_basis == "《住房公积金管理条例》第十四条"
    assert corpus.by_id["T-ZX-003"].legal_basis.endswith("第三十三条")  # point overrides item
    assert corpus.by_id["T-ZX-004"].district == "南沙" and corpus.by_id["T-ZX-005"].district == "全市"


def _problems(kb_copy, edit) -> list:
    path = kb_copy / "商事登记" / "dereg.yaml"
    path.write_text(edit(path.read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(CorpusError) as info:
        load_corpus(kb_copy, today=date(2026, 12, 4))
    return [str(p) for p in info.value.problems if p.severity == "error"]


def test_unknown_district_is_reported_with_file_line_and_allowed_values(kb_copy):
    problems = _problems(kb_copy, lambda s: s.replace("district: 南沙", "district: 天和"))
    assert len(problems) == 1
    assert "商事登记/dereg.yaml:" in problems[0] and "T-ZX-004" in problems[0]
    assert "'天和'" in problems[0] and "天河" in problems[0]


def test_every_problem_is_reported_not_just_the_first(kb_copy):
    def edit(text):
        text = text.replace("id: T-ZX-002", "id: T-ZX-001")  # duplicate id
        text = text.replace("effective_from: 2022-03-01", "effective_from: 2022-13-01")  # bad date
        return text.replace("entity_types: [个体工商户]", "entity_types: [个体户]\n    legal_bases: x")
    problems = "\n".join(_problems(kb_copy, edit))
    assert "duplicates T-ZX-001" in problems
    assert "bad date '2022-13-01'" in problems
    assert "'个体户'" in problems
    assert "legal_bases: unknown field" in problems


def test_missing_answer_and_too_few_similar_questions(kb_copy):
    def edit(text):
        text = text.replace("      简易注销须通过国家企业信用信息公示系统公示，公示期为20日。", "      ")
        return text.replace("      - 南沙注销窗口在哪\n", "")
    problems = "\n".join(_problems(kb_copy, edit))
    assert "[T-ZX-003] answer: is missing or empty" in problems
    assert "[T-ZX-004] similar: needs at least 2" in problems


def test_duplicate_answer_text_is_an_error(kb_copy):
    problems = _problems(kb_copy, lambda s: s.replace("个体工商户注销一般只需提交注销登记申请书和营业执照正副本，无需清算报告。",
                                                    "简易注销须通过国家企业信用信息公示系统公示，公示期为20日。"))
    assert any("answer: duplicates" in p for p in problems)


def test_expired_points_are_reported_and_not_served(kb_copy):
    path = kb_copy / "公积金" / "open.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        "    legal_basis: 《住房公积金管理条例》第十八条", "    legal_basis: 《住房公积金管理条例》第十八条\n    expires_on: 2025-01-01"),
        encoding="utf-8")
    corpus = load_corpus(kb_copy, today=date(2026, 12, 4))
    assert "T-GJJ-002" not in corpus.by_id
    assert any("expired on 2025-01-01" in str(w) for w in corpus.warnings)


def test_broken_yaml_is_a_clear_error_and_nothing_loads(kb_copy):
    (kb_copy / "公积金" / "broken.yaml").write_text("item: [unclosed\n", encoding="utf-8")
    with pytest.raises(CorpusError) as info:
        load_corpus(kb_copy)
    assert any("broken.yaml" in str(p) and "yaml" in str(p) for p in info.value.problems)


def test_missing_directory_is_a_clear_error(tmp_path):
    with pytest.raises(CorpusError, match="does not exist"):
        load_corpus(tmp_path / "nope")


def test_item_level_queue_is_inherited_by_its_points(kb_copy):
    """A line-其他 item (e.g. labour law) may route all its points to another agent queue."""
    path = kb_copy / "商事登记" / "dereg.yaml"
    text = path.read_text(encoding="utf-8").replace("  line: 商事登记\n", "  line: 其他\n  queue: 社保\n", 1)
    path.write_text(text, encoding="utf-8")
    corpus = load_corpus(kb_copy, today=date(2026, 12, 4))
    points = [p for p in corpus.points if p.id.startswith("T-ZX-")]
    assert points and all(p.line == "其他" and p.queue == "社保" for p in points)
    assert corpus.by_id["T-GJJ-001"].queue == "公积金"  # other items keep the queue of their line
