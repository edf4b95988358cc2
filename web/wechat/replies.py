"""What the WeChat channel says by itself (welcome, polite refusals), the menu, and bot turns as WeChat text."""
from __future__ import annotations

import json

WELCOME = ("您好，欢迎关注广州12345企业服务！我是智能助手，可以解答企业开办、变更、注销，住房公积金、社保、税务、"
           "不动产登记等问题。您可以这样问：\n1. 个体户怎么注销？\n2. 公司变更法定代表人要什么材料？\n"
           "3. 单位怎么给新员工开公积金账户？\n需要人工服务请回复“转人工”。")
ONLY_TEXT = "抱歉，目前只能识别文字消息。请用文字描述您的问题，例如“个体户怎么注销”。"
UNKNOWN_MENU = "该菜单暂未开放，请直接用文字描述您的问题。"
BUSY = "系统繁忙，请稍后再发一次您的问题。"
TOO_FAST = "您发送得太频繁了，请稍等一分钟再发送。"
RATED = "感谢您的评价！如还有问题，可以继续提问。"


def masked(key: str) -> str:
    """A dedupe key for logs, the openid shortened."""
    kind, openid, rest = (key.split(":", 2) + ["", ""])[:3]
    return f"{kind}:{openid[:6]}…:{rest}"


def parse_menu(raw: str) -> dict[str, dict]:
    """HOTLINE_WECHAT_MENU: {"EventKey": "reply text" | {"reply": text} | {"ask": question}}."""
    if not raw.strip():
        return {}
    try:
        menu = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"HOTLINE_WECHAT_MENU is not valid JSON: {exc}") from None
    if not isinstance(menu, dict):
        raise ValueError("HOTLINE_WECHAT_MENU must be a JSON object of EventKey -> reply")
    out: dict[str, dict] = {}
    for key, value in menu.items():
        entry = {"reply": value} if isinstance(value, str) else value
        if not isinstance(entry, dict) or len(entry) != 1 or not isinstance(next(iter(entry.values())), str) \
                or next(iter(entry)) not in ("reply", "ask"):
            raise ValueError(f"HOTLINE_WECHAT_MENU[{key!r}] must be a text, {{\"reply\": text}} "
                             "or {\"ask\": question}")
        out[key] = entry
    return out


def format_turn(turn: dict) -> tuple[str, list[str]]:
    """The bot's reply as WeChat text; clarify options and related questions numbered so a digit picks one."""
    options = [s for s in turn.get("suggestions") or [] if isinstance(s, str)][:5]
    if not options:
        return turn["reply"], []
    head = "请回复数字选择您要问的问题：" if turn.get("type") == "clarify" else "您可能还想问（回复数字即可）："
    lines = "\n".join(f"{i}. {s}" for i, s in enumerate(options, 1))
    return f"{turn['reply']}\n\n{head}\n{lines}", options
