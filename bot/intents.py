"""Recognise what a message is besides a question: small talk, asking for a person, a complaint."""
from __future__ import annotations

import re
from dataclasses import dataclass

# Asking for a person. Strong cues count anywhere; weak ones only in a short message.
_HANDOFF_STRONG = re.compile(
    r"转人工|人工客服|人工服务|人工座席|人工坐席|找人工|要人工|接人工|转接人工|"
    r"(不要|不想|别|不愿意?)(再)?(跟|和|同|让|用)?(机器人|机器|ai|智能客服)|"
    r"(找|叫|要|换)(个|一个)?(真人|活人|人来|人工|人跟我|人和我)|"
    r"(帮我|给我|我要|我想)(派单|派个单|转办|建单|立单|登记工单|提交工单|开工单)")
_HANDOFF_WEAK = re.compile(r"人工|真人|活人|客服|话务员|接线员|坐席|座席|工作人员|派单|工单|回电|打电话给我|联系我|找个人|找人")
_BOT_QUESTION = re.compile(r"^(你|您)(是|是不是|到底是)(不是)?(真人|机器人|人工|ai|人工智能|机器)")
# Complaints: grievance words always; 投诉/举报 only with first-person intent (a question about the
# complaint procedure, e.g. "投诉多久有结果", is a consultation the knowledge base answers).
_GRIEVANCE = re.compile(
    r"态度(很|太|非常|极其|特别)?(差|恶劣|不好|蛮横)|乱收费|乱罚款|违规收费|推诿|刁难|吃拿卡要|索贿|不作为|"
    r"拖着不办|拖延不办|故意拖|服务太差|效率(太|很|极)?低|踢皮球|没人管|没人理|敷衍|办事难")
_COMPLAINT_ACT = re.compile(r"(我|我们)(要|想|必须|一定要)(投诉|举报)|(投诉|举报)(你们|他们|窗口|工作人员|那个|这个)|帮我(投诉|举报|反映)")
_ASKING = re.compile(r"几天|多久|时限|怎么|如何|吗|什么|哪|多少|能不能|可不可以|是否|\?")
_WRONG = re.compile(r"答非所问|不是我要问的|(答案|回答|你说的|你答的|你这个)(不对|错了|有误|没用|不准确)|(你|机器人)(说得|答得)?不对|不是这个意思|牛头不对马嘴")
# Small talk: a message made only of these phrases, particles, punctuation and ways of addressing the bot.
_SMALL_TALK = {
    "goodbye": r"再见|拜拜|bye|886|88|没有了|没事了|没问题了|不用了|先这样",
    "thanks": r"谢谢|多谢|感谢|谢了|thanks?|thank you|辛苦了?|麻烦(你|您)?了|有劳",
    "greeting": r"你好|您好|hi|hello|hey|哈喽|嗨|在吗|在不在|有人吗|请问有人吗|早上好|上午好|中午好|下午好|晚上好|早安|晚安|喂|打扰了",
    "praise": r"(你)?(真|好|很|太)(聪明|厉害|棒|好)(了)?|(真|太)?不错|赞|牛",
    "ack": r"好的|好吧|好|ok|okay|嗯+|哦+|明白了?|知道了|了解了?|收到|行|可以|懂了",
}
_FILLER = r"[\s,，.。!！?？~～、…]|呀|啊|吗|呢|吧|啦|了|哈+|嘿|哦|的|你|您|亲|小助手|助手|机器人|兄弟|老师|同志|请问|那|就|先|非常|很"


@dataclass(frozen=True)
class Intent:
    name: str  # question | greeting | thanks | goodbye | praise | ack | identity | handoff | complaint | wrong_answer
    reason: str = ""


def _small_talk(text: str) -> str | None:
    found = [name for name, pattern in _SMALL_TALK.items() if re.search(pattern, text, re.I)]
    if not found:
        return None
    residue = text
    for pattern in _SMALL_TALK.values():
        residue = re.sub(pattern, "", residue, flags=re.I)
    residue = re.sub(_FILLER, "", residue, flags=re.I)
    return found[0] if len(residue) <= 1 else None


def classify(text: str) -> Intent:
    """The non-question intent of a normalised message, or 'question'."""
    t = text.strip().lower()
    if m := _GRIEVANCE.search(t) or _COMPLAINT_ACT.search(t):
        return Intent("complaint", m.group(0))
    if re.match(r"(投诉|举报)", t) and not _ASKING.search(t):
        return Intent("complaint", t[:2])
    if _BOT_QUESTION.search(t) and len(t) <= 12:
        return Intent("identity")
    if m := _HANDOFF_STRONG.search(t):
        return Intent("handoff", m.group(0))
    if (m := _HANDOFF_WEAK.search(t)) and len(t) <= 12 and not _ASKING.search(t.replace("在吗", "")) and not re.search(r"电话|号码|地址", t):
        return Intent("handoff", m.group(0))
    if m := _WRONG.search(t):
        return Intent("wrong_answer", m.group(0))
    if re.search(r"^(你|您)(叫什么|能(做|干)什么|会(做|干)?什么|有什么用)", t):
        return Intent("identity")
    if name := _small_talk(t):
        return Intent(name)
    return Intent("question")


CHITCHAT_REPLIES = {
    "greeting": "您好！这里是广州12345企业服务智能助手，可以解答企业开办、变更、注销，住房公积金、社保、税务和不动产登记等问题。请直接描述您要办的事。",
    "thanks": "不客气！还有其他企业办事问题，随时问我。",
    "praise": "谢谢夸奖！有企业办事方面的问题尽管问我。",
    "ack": "好的。还有其他问题可以继续问我，也可以输入“转人工”联系人工客服。",
    "goodbye": "感谢您的咨询，再见！如有需要可随时再来咨询，或拨打12345热线。",
    "identity": "我是广州12345企业服务智能助手（机器人），回答依据整理好的政策和办事指南；需要人工服务时请输入“转人工”。",
}
