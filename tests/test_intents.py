"""Intent rules on phrasings written for these tests (the dev set's lines are not reused here)."""
import pytest

from bot.intents import classify


@pytest.mark.parametrize("text, name", [
    ("你好", "greeting"), ("您好，在吗？", "greeting"), ("哈喽小助手", "greeting"),
    ("谢谢您的耐心解答", "question"),  # "耐心解答" is content we do not strip: stays a question
    ("太感谢了！", "thanks"), ("ok 收到", "ack"), ("好的谢谢", "thanks"), ("拜拜", "goodbye"),
    ("你真厉害", "praise"), ("你是机器人吗", "identity"), ("你能做什么", "identity"),
])
def test_small_talk(text, name):
    assert classify(text).name == name


@pytest.mark.parametrize("text", ["转人工", "人工", "我要人工客服", "别让机器人回答了", "找个真人来", "帮我派单处理一下", "客服在吗"])
def test_asking_for_a_person(text):
    assert classify(text).name == "handoff"


@pytest.mark.parametrize("text", ["我要投诉天河区窗口", "窗口工作人员态度很差", "他们乱收费", "办个执照一直推诿", "帮我举报一家无证经营的店"])
def test_complaints(text):
    assert classify(text).name == "complaint"


@pytest.mark.parametrize("text", ["投诉举报多久会有处理结果", "12345客服电话是多少", "公积金管理中心的工作人员在哪里办公",
                                  "个体户注销要什么材料", "人工智能公司经营范围怎么写"])
def test_questions_about_these_topics_stay_questions(text):
    assert classify(text).name == "question"


def test_saying_the_answer_is_wrong():
    assert classify("你这个回答不对").name == "wrong_answer"


@pytest.mark.parametrize("text", ["工单一般几天回复", "部门回复了但问题没解决怎么办", "我在网上填的资料会不会泄露给我投诉的那家公司"])
def test_questions_that_mention_tickets_or_complaints(text):
    assert classify(text).name == "question"


def test_personal_data_is_masked_for_logs():
    from bot.entities import mask_personal_data

    masked = mask_personal_data("我电话13812345678，信用代码91440101MA5CXXXX1X，身份证440106199001011234")
    assert "13812345678" not in masked and "138****5678" in masked
    assert "91440101MA5CXXXX1X" not in masked and "440106199001011234" not in masked


def test_credit_code_checksum_follows_gb_32100():
    from bot.entities import credit_code_valid

    assert credit_code_valid("91350100M000100Y43")  # the standard's own example
    assert not credit_code_valid("91350100M000100Y44")
    assert not credit_code_valid("91350100M000100I43")  # I is not in the character set
    assert not credit_code_valid("9135010")


def test_elements_are_extracted_from_a_message():
    from bot.entities import extract_elements

    found = extract_elements("我们是广州市某某科技有限公司，信用代码91350100M000100Y43，在体育西那边，电话020-12345678")
    assert found == {"company": "广州市某某科技有限公司", "credit_code": "91350100M000100Y43", "credit_code_valid": True,
                     "phone": "020-12345678", "district": "天河"}
    assert extract_elements("代码91350100M000100Y44")["credit_code_valid"] is False
    assert extract_elements("个体户注销要什么材料") == {}
