"""Recognise what a message is besides a question: small talk, asking for a person, a complaint."""
from __future__ import annotations

import re
from dataclasses import dataclass

_HANDOFF = re.compile(
    r"转人工|人工客服|人工服务|人工座席|人工坐席|找人工|要人工|接人工|真人|活人|客服人员|人工$|^人工|接线员|"
    r"转接.{0,4}(客服|座席|坐席|工作人员)|(找|叫|要|让).{0,4}(工作人员|你们领导|负责人).{0,4}(来|处理|接|说)?|跟人说话|和人聊")
_COMPLAINT = re.compile(
    r"投诉|举报|态度(很|太|非常|极其)?(差|恶劣|不好)|乱收费|推诿|刁难|吃拿卡要|索贿|不作为|拖延不办|故意拖|"
    r"服务太差|效率(太|很)?低|乱罚款|违规收费|没人管|踢皮球")
_WRONG = re.compile(r"答非所问|不是我要问的|(答案|回答|你说的)(不对|错了|有误|没用)|不对吧|没解决|不是这个意思|牛头不对马嘴")
_GREETING = re.compile(r"^(你好|您好|hi|hello|hey|哈喽|嗨|在吗|在不在|有人吗|早上好|上午好|中午好|下午好|晚上好|早安|晚安|喂)[呀啊吗呢～~!！。.\s]*$", re.I)
_THANKS = re.compile(r"^(好的?|ok|嗯+|明白了?|知道了|了解了?|收到)?[，,\s]*(谢谢|多谢|感谢|谢了|thanks?|thank you|辛苦了?|麻烦了|好的谢谢)[你您啦了呀啊哈！!。.\s]*$", re.I)
_ACK = re.compile(r"^(好的?|好吧|ok|okay|嗯+|哦+|明白了?|知道了|了解了?|收到|行|可以)[啦了呀啊！!。.\s]*$", re.I)
_BYE = re.compile(r"^(再见|拜拜|bye|88|886|没有了|没事了|没问题了)[啦了呀啊！!。.\s]*$", re.I)
_IDENTITY = re.compile(r"^(你|您)(是|是不是)(谁|机器人|人工|真人|ai|人工智能)[吗呀啊？?。\s]*$|^你叫什么|^你能(做|干)什么|^你会什么", re.I)


@dataclass(frozen=True)
class Intent:
    name: str  # question | greeting | thanks | goodbye | identity | handoff | complaint | wrong_answer
    reason: str = ""


def classify(text: str) -> Intent:
    """The non-question intent of a normalised message, or 'question'. Complaints win over everything."""
    t = text.strip()
    if _COMPLAINT.search(t):
        return Intent("complaint", _COMPLAINT.search(t).group(0))
    if _HANDOFF.search(t):
        return Intent("handoff", _HANDOFF.search(t).group(0))
    if _WRONG.search(t):
        return Intent("wrong_answer", _WRONG.search(t).group(0))
    for name, pattern in (("greeting", _GREETING), ("thanks", _THANKS), ("goodbye", _BYE),
                          ("identity", _IDENTITY), ("ack", _ACK)):
        if pattern.search(t):
            return Intent(name)
    return Intent("question")


CHITCHAT_REPLIES = {
    "greeting": "您好！这里是广州12345企业服务智能助手，可以解答企业开办、变更、注销，住房公积金、社保、税务和不动产登记等问题。请直接描述您要办的事。",
    "thanks": "不客气！还有其他企业办事问题，随时问我。",
    "ack": "好的。还有其他问题可以继续问我，也可以输入“转人工”联系人工客服。",
    "goodbye": "感谢您的咨询，再见！如有需要可随时再来咨询，或拨打12345热线。",
    "identity": "我是广州12345企业服务智能助手（机器人），回答依据整理好的政策和办事指南；需要人工服务时请输入“转人工”。",
}
