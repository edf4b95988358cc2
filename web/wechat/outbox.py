"""Customer-service pushes kept in the database: queued, sent in order, failures kept with WeChat's reason."""
from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from web.db import utcnow
from web.wechat.api_client import ApiError, WeChatApi
from web.wechat.models import PUSHES_PER_MESSAGE, WINDOW_HOURS, WeChatOutbox, WeChatUser
from web.wechat.protocol import split_text

log = logging.getLogger(__name__)
WINDOW_CLOSED, QUOTA_EXHAUSTED = 45015, 45047
ERRORS = {
    WINDOW_CLOSED: "超过48小时客服消息时限：需等用户再发一条消息后才能送达",
    QUOTA_EXHAUSTED: "客服消息条数已达上限（每条用户消息后最多5条）：需等用户再发一条消息",
    43004: "用户已取消关注，无法送达",
    48001: "公众号没有客服消息接口权限（需认证的服务号）",
    40164: "服务器 IP 不在公众号的 IP 白名单中",
    40125: "AppSecret 不正确（HOTLINE_WECHAT_SECRET）",
    40013: "AppID 不正确（HOTLINE_WECHAT_APPID）",
    -2: "网络错误，未能连接微信接口",
}
STUCK_AFTER = timedelta(minutes=2)  # a "sending" row this old lost its worker; it may be retried


def _aware(value):
    from datetime import timezone

    return value if value is None or value.tzinfo else value.replace(tzinfo=timezone.utc)


class Outbox:
    def __init__(self, sessions: sessionmaker, api: WeChatApi | None):
        self.sessions = sessions
        self.api = api

    def enqueue(self, db: Session, openid: str, session_id: str | None, seq: int | None, kind: str,
                text: str) -> list[int]:
        """Rows for one message (several when it is longer than 2,048 bytes), in the caller's transaction."""
        rows = [WeChatOutbox(openid=openid, session_id=session_id, message_seq=seq, part=i, kind=kind, text=piece,
                             status="pending", attempts=0, created_at=utcnow(), updated_at=utcnow())
                for i, piece in enumerate(split_text(text))]
        db.add_all(rows)
        db.flush()
        return [r.id for r in rows]

    def send(self, ids: list[int]) -> dict:
        """Send the rows in order; after the first failure the rest wait (failed too) so order is kept on retry."""
        sent, error = 0, None
        for row_id in ids:
            if error is not None:
                self._finish(row_id, "failed", None, "前一条未送达，已暂停发送", claim=True)
                continue
            outcome = self._send_one(row_id)
            if outcome is None:
                sent += 1
            elif outcome != "skipped":
                error = outcome
        status = "sent" if error is None else ("partial" if sent else "failed")
        return {"status": status, "sent": sent, **({"error": error} if error else {})}

    def _send_one(self, row_id: int) -> str | None:
        """None when sent; "skipped" when another worker has it; else the error text (kept on the row)."""
        with self.sessions() as db:
            claimed = db.execute(update(WeChatOutbox).where(WeChatOutbox.id == row_id, WeChatOutbox.status == "pending")
                                 .values(status="sending", attempts=WeChatOutbox.attempts + 1, updated_at=utcnow())
                                 ).rowcount == 1
            db.commit()
            if not claimed:
                return "skipped"
            row = db.get(WeChatOutbox, row_id)
            openid, text = row.openid, row.text
        if self.api is None:
            error, code = "未配置 HOTLINE_WECHAT_APPID / HOTLINE_WECHAT_SECRET，无法调用客服消息接口", None
        else:
            try:
                self.api.send_text(openid, text)
                error, code = None, None
            except ApiError as exc:
                error, code = ERRORS.get(exc.errcode, f"微信接口错误 {exc.errcode} {exc.errmsg}"), exc.errcode
            except Exception as exc:  # noqa: BLE001 - whatever went wrong, the push is kept as failed
                log.exception("wechat push %s failed", row_id)
                error, code = f"发送出错：{type(exc).__name__}", None
        self._finish(row_id, "failed" if error else "sent", code, error)
        if error:
            log.warning("wechat push %s to %s failed: %s", row_id, openid[:6], error)
        return error

    def _finish(self, row_id: int, status: str, code: int | None, error: str | None, claim: bool = False) -> None:
        with self.sessions() as db:
            row = db.get(WeChatOutbox, row_id)
            if claim and row.status != "pending":
                return
            row.status, row.errcode, row.error, row.updated_at = status, code, (error or None) and error[:255], utcnow()
            if status == "sent":
                user = db.get(WeChatUser, row.openid)
                if user is not None:
                    user.pushes_since_inbound = (user.pushes_since_inbound or 0) + 1
            db.commit()

    def retry(self, session_id: str) -> list[int]:
        """Put the session's failed pushes back in the queue, and those stuck pending or sending (their worker
        stopped); returns their ids, oldest first."""
        with self.sessions() as db:
            stuck = utcnow() - STUCK_AFTER
            ids = list(db.scalars(select(WeChatOutbox.id).where(
                WeChatOutbox.session_id == session_id,
                (WeChatOutbox.status == "failed") | (WeChatOutbox.status.in_(("pending", "sending"))
                                                     & (WeChatOutbox.updated_at < stuck)))
                .order_by(WeChatOutbox.id)))
            if ids:
                db.execute(update(WeChatOutbox).where(WeChatOutbox.id.in_(ids))
                           .values(status="pending", updated_at=utcnow()))
            db.commit()
        return ids

    def status(self, session_id: str, openid: str | None) -> dict:
        """What the agent console shows: the 48 h window, pushes left, failed and pending pushes."""
        with self.sessions() as db:
            user = db.get(WeChatUser, openid) if openid else None
            last = _aware(user.last_inbound_at) if user is not None else None
            expires = last + timedelta(hours=WINDOW_HOURS) if last else None
            codes: set[int] = set()  # what WeChat itself said since the user's last message
            if last is not None:
                codes = set(db.scalars(select(WeChatOutbox.errcode).where(
                    WeChatOutbox.openid == openid, WeChatOutbox.updated_at >= last,
                    WeChatOutbox.errcode.in_((WINDOW_CLOSED, QUOTA_EXHAUSTED)))))
            open_ = bool(user and user.subscribed and expires and utcnow() < expires and WINDOW_CLOSED not in codes)
            quota = 0 if not open_ or QUOTA_EXHAUSTED in codes else \
                max(0, PUSHES_PER_MESSAGE - user.pushes_since_inbound)
            of_session = WeChatOutbox.session_id == session_id
            failed = db.scalars(select(WeChatOutbox).where(of_session, WeChatOutbox.status == "failed")
                                .order_by(WeChatOutbox.id)).all()
            pending = db.scalar(select(func.count()).select_from(WeChatOutbox).where(
                of_session, WeChatOutbox.status.in_(("pending", "sending")))) or 0
            return {"channel": "wechat", "window_open": open_,
                    "window_expires_at": expires.isoformat() if expires else None,
                    "quota_remaining": quota, "subscribed": bool(user and user.subscribed),
                    "failed": [{"id": r.id, "seq": r.message_seq, "part": r.part, "kind": r.kind, "text": r.text,
                                "error": r.error, "errcode": r.errcode, "attempts": r.attempts,
                                "at": _aware(r.updated_at).isoformat()} for r in failed],
                    "pending": pending}
