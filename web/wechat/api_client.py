"""WeChat API calls with one access_token shared by every worker through the database.

Replaces wechatpy's client for the two calls needed here: its stock client fetches a token once per
concurrent caller and retries 40001 without bound. Here one worker refreshes at a time (a lease taken with a
conditional UPDATE), tokens are refreshed early, a 40001/42001 refreshes once and resends once, and every
HTTP call has timeouts and a bounded number of retries.
"""
from __future__ import annotations

import json
import logging
import time
import uuid

import requests
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from web.wechat.models import WeChatToken

log = logging.getLogger(__name__)
TOKEN_INVALID = (40001, 40014, 42001)  # invalid / malformed / expired access_token
RETRYABLE = (-1,)  # "system busy"


class ApiError(Exception):
    """An errcode from WeChat (or -2 for a network failure after the retries)."""

    def __init__(self, errcode: int, errmsg: str):
        super().__init__(f"{errcode} {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


class WeChatApi:
    def __init__(self, sessions: sessionmaker, appid: str, secret: str, base_url: str, *,
                 timeout: tuple[float, float] = (3.0, 5.0), attempts: int = 3, refresh_margin: float = 300.0,
                 lease_seconds: float = 40.0, wait_seconds: float = 15.0):
        self.sessions, self.appid, self.secret = sessions, appid, secret
        self.base_url = base_url.rstrip("/")
        self.timeout, self.attempts = timeout, attempts
        self.refresh_margin, self.lease_seconds, self.wait_seconds = refresh_margin, lease_seconds, wait_seconds

    # -- access_token --------------------------------------------------------------------------------
    def access_token(self, stale: str | None = None) -> str:
        """A valid token; `stale` is one WeChat just refused, so it is replaced unless someone already did."""
        self._ensure_row()
        give_up = time.monotonic() + self.wait_seconds
        while True:
            now = time.time()
            with self.sessions() as db:
                row = db.get(WeChatToken, self.appid, populate_existing=True)
                token, expires_at, lease_until = row.access_token, row.expires_at, row.lease_until
            usable = bool(token) and token != stale and expires_at > now + 10
            if usable and expires_at > now + self.refresh_margin:
                return token
            if lease_until < now:
                try:
                    fresh = self._refresh(token, now)
                except ApiError as exc:
                    if not usable:
                        raise
                    log.warning("early access_token refresh failed (%s); the current token is still valid", exc)
                    return token
                if fresh is not None:
                    return fresh
            if usable:  # another worker is refreshing early; the current token still works meanwhile
                return token
            if time.monotonic() > give_up:
                raise ApiError(-2, "timed out waiting for another worker's access_token refresh")
            time.sleep(0.05)

    def _refresh(self, seen: str | None, now: float) -> str | None:
        """Fetch a new token if this worker wins the lease (nobody else refreshing, token unchanged since read)."""
        owner = uuid.uuid4().hex
        same = WeChatToken.access_token.is_(None) if seen is None else WeChatToken.access_token == seen
        with self.sessions() as db:
            won = db.execute(update(WeChatToken).where(WeChatToken.appid == self.appid, WeChatToken.lease_until < now,
                                                       same)
                             .values(lease_owner=owner, lease_until=now + self.lease_seconds)).rowcount == 1
            db.commit()
        if not won:
            return None
        mine = (WeChatToken.appid == self.appid, WeChatToken.lease_owner == owner)
        try:
            data = self._request("GET", "/cgi-bin/token", params={
                "grant_type": "client_credential", "appid": self.appid, "secret": self.secret})
            token, expires_in = data["access_token"], float(data.get("expires_in", 7200))
        except Exception:
            with self.sessions() as db:
                db.execute(update(WeChatToken).where(*mine).values(lease_owner=None, lease_until=0.0))
                db.commit()
            raise
        with self.sessions() as db:
            db.execute(update(WeChatToken).where(*mine).values(
                access_token=token, expires_at=time.time() + expires_in, lease_owner=None, lease_until=0.0,
                refreshed=WeChatToken.refreshed + 1))
            db.commit()
        log.info("wechat access_token refreshed (valid %d s)", expires_in)
        return token

    def _ensure_row(self) -> None:
        with self.sessions() as db:
            if db.get(WeChatToken, self.appid) is None:
                db.add(WeChatToken(appid=self.appid, access_token=None, expires_at=0.0, lease_until=0.0, refreshed=0))
                try:
                    db.commit()
                except IntegrityError:  # another worker created it first
                    db.rollback()

    # -- calls ---------------------------------------------------------------------------------------
    def send_text(self, openid: str, text: str) -> None:
        """A customer-service text message (/cgi-bin/message/custom/send); raises ApiError on any errcode."""
        body = {"touser": openid, "msgtype": "text", "text": {"content": text}}
        token = self.access_token()
        try:
            self._request("POST", "/cgi-bin/message/custom/send", token=token, body=body)
        except ApiError as exc:
            if exc.errcode not in TOKEN_INVALID:
                raise
            log.warning("wechat refused the access_token (%s); refreshing once", exc.errcode)
            self._request("POST", "/cgi-bin/message/custom/send", token=self.access_token(stale=token), body=body)

    def _request(self, method: str, path: str, *, token: str | None = None, params: dict | None = None,
                 body: dict | None = None) -> dict:
        """One API call: timeouts, and at most `attempts` tries for network errors, 5xx and "system busy"."""
        params = dict(params or {})
        if token:
            params["access_token"] = token
        data = json.dumps(body, ensure_ascii=False).encode("utf-8") if body is not None else None
        for attempt in range(1, self.attempts + 1):
            try:
                resp = requests.request(method, self.base_url + path, params=params, data=data, timeout=self.timeout,
                                        headers={"Content-Type": "application/json; charset=utf-8"} if data else None)
                if resp.status_code >= 500:
                    raise requests.HTTPError(f"HTTP {resp.status_code}")
                result = resp.json()
            except (requests.RequestException, ValueError) as exc:
                if attempt == self.attempts:
                    raise ApiError(-2, f"{path}: {type(exc).__name__} after {attempt} attempts") from None
                time.sleep(0.2 * attempt)
                continue
            errcode = int(result.get("errcode") or 0)
            if errcode in RETRYABLE and attempt < self.attempts:
                time.sleep(0.2 * attempt)
                continue
            if errcode:
                raise ApiError(errcode, str(result.get("errmsg", ""))[:200])
            return result
        raise AssertionError("unreachable")
