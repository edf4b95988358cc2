"""The engine end to end on the tiny index with the fake embedder."""
from datetime import datetime, timedelta, timezone

import pytest

from bot.dialogue import DialogueState, read_message

NOW = datetime(2026, 12, 4, 10, 0, tzinfo=timezone.utc)


@pytest.fixture()
def engine(runtime):
    return runtime.engine


def ask(engine, text, state=None):
    return engine.respond(text, state or DialogueState(), NOW)


def test_answers_with_source_legal_basis_and_channel(engine):
    turn = ask(engine, "新成立的单位多久内要办理住房公积金缴存登记？")
    assert turn.type == "answer" and turn.sources[0]["id"] == "T-GJJ-001"
    assert "30日内" in turn.reply and "【政策依据】《住房公积金管理条例》第十四条" in turn.reply
    assert "【办理渠道】" in turn.reply and turn.sources[0]["legal_basis"].startswith("《住房公积金管理条例》")


def test_out_of_domain_falls_back_honestly(engine):
    turn = ask(engine, "明天广州会不会下雨啊")
    assert turn.type == "fallback" and turn.sources == [] and "转人工" in turn.reply


def test_small_talk_and_handoff_intents(engine):
    assert ask(engine, "你好").type == "chitchat"
    assert ask(engine, "谢谢啦").type == "chitchat"
    turn = ask(engine, "我要转人工")
    assert (turn.type, turn.reason) == ("handoff", "user_request")
    complaint = ask(engine, "我要投诉公积金窗口工作人员态度差")
    assert (complaint.type, complaint.reason, complaint.queue) == ("handoff", "complaint", "公积金")


def test_two_fallbacks_in_a_row_hand_off(engine):
    first = ask(engine, "今天股票大盘怎么走")
    second = ask(engine, "周末去哪里玩比较好", first.state)
    assert first.type == "fallback" and (second.type, second.reason) == ("handoff", "repeated_failure")


def test_entity_follow_up_swaps_entity(engine):
    first = ask(engine, "有限责任公司注销登记需要哪些材料？")
    assert first.sources[0]["id"] == "T-ZX-001"
    reading = read_message("那个体户呢？", first.state)
    assert reading.follow_up and "个体工商户" in reading.query
    second = ask(engine, "那个体户呢？", first.state)
    assert second.type == "answer" and second.sources[0]["id"] == "T-ZX-002"


def test_district_follow_up_prefers_district_point(engine):
    first = ask(engine, "企业在哪里办理注销登记？")
    assert first.sources[0]["id"] == "T-ZX-005"
    second = ask(engine, "在南沙办呢？", first.state)
    assert second.sources[0]["id"] == "T-ZX-004"


def test_clarify_option_sent_back_verbatim_resolves(engine):
    state = DialogueState(options={"简易注销的公示期是多少天?": "T-ZX-003"})
    turn = ask(engine, "简易注销的公示期是多少天？", state)
    assert (turn.type, turn.reason, turn.sources[0]["id"]) == ("answer", "clarify_choice", "T-ZX-003")


def test_context_expires_after_idle_time(engine):
    first = ask(engine, "有限责任公司注销登记需要哪些材料？")
    later = engine.respond("那个体户呢？", first.state, NOW + timedelta(hours=3))
    assert later.query == "那个体户呢?"


@pytest.mark.parametrize("text", ["", "   ", "😀😀😀", "<script>alert(1)</script>", "x" * 10000,
                                  "公司 register capital 减资 how?", "營業執照遺失補領"])
def test_bad_or_odd_input_gets_a_clear_turn(engine, text):
    turn = ask(engine, text)
    assert turn.type in {"answer", "clarify", "fallback", "chitchat"} and turn.reply


def test_a_curated_phrasing_asked_word_for_word_is_answered(engine):
    turn = ask(engine, "个体户不干了，怎么注销？")  # a similar question of T-ZX-002, punctuation aside
    assert turn.type == "answer" and turn.reason == "exact_phrasing" and turn.sources[0]["id"] == "T-ZX-002"


def test_a_phrasing_shared_by_two_points_names_neither():
    from bot.retrieve import phrasing_index, phrasing_key
    from indexer.snapshot import Unit

    class Point:
        def __init__(self, *questions):
            self.questions = questions

    units = [Unit("A", "kp", "甲", "", kp=Point("公司怎么注销", "注销流程")),
             Unit("B", "kp", "乙", "", kp=Point("个体户怎么注销", "注销流程"))]
    index = phrasing_index(units)
    assert index[phrasing_key("公司怎么注销")] == 0 and phrasing_key("注销流程") not in index
