"""A real HTTP fake of WeChat's API on 127.0.0.1: /cgi-bin/token and /cgi-bin/message/custom/send."""
from __future__ import annotations

import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


class FakeWeChatApi:
    """Issues tokens (counting fetches; `token_delay` makes fetches slow so callers overlap), accepts custom
    messages for the current token only (40001 otherwise), and returns scripted errcodes from `fail_next`."""

    def __init__(self, appid: str, secret: str, token_delay: float = 0.0):
        self.appid, self.secret, self.token_delay = appid, secret, token_delay
        self.lock = threading.Lock()
        self.tokens: list[str] = []  # every token issued; only the last one is valid
        self.sent: list[dict] = []  # accepted custom messages
        self.refused: list[tuple[int, dict]] = []
        self.fail_next: list[int] = []  # errcodes for the next custom-send calls, in order
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> "FakeWeChatApi":
        self.thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def revoke_token(self) -> None:
        """Invalidate the current token as WeChat does when another party fetched a new one (→ 40001)."""
        with self.lock:
            self.tokens.append("revoked-" + secrets.token_hex(4))

    def texts(self, openid: str | None = None) -> list[str]:
        return [m["text"]["content"] for m in self.sent if openid is None or m["touser"] == openid]

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args) -> None:
                pass

            def _json(self, body: dict) -> None:
                raw = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_GET(self) -> None:
                url = urlparse(self.path)
                q = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path != "/cgi-bin/token":
                    return self._json({"errcode": 404, "errmsg": "not found"})
                if q.get("grant_type") != "client_credential" or q.get("appid") != fake.appid \
                        or q.get("secret") != fake.secret:
                    return self._json({"errcode": 40125, "errmsg": "invalid appsecret"})
                time.sleep(fake.token_delay)
                with fake.lock:
                    token = "tok-" + secrets.token_hex(8)
                    fake.tokens.append(token)
                self._json({"access_token": token, "expires_in": 7200})

            def do_POST(self) -> None:
                url = urlparse(self.path)
                q = {k: v[0] for k, v in parse_qs(url.query).items()}
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode("utf-8"))
                if url.path != "/cgi-bin/message/custom/send":
                    return self._json({"errcode": 404, "errmsg": "not found"})
                with fake.lock:
                    current = fake.tokens[-1] if fake.tokens else None
                    if q.get("access_token") != current:
                        code = 40001
                    elif fake.fail_next:
                        code = fake.fail_next.pop(0)
                    elif len(body["text"]["content"].encode()) > 2048:
                        code = 45002  # content too long
                    else:
                        code = 0
                    if code:
                        fake.refused.append((code, body))
                    else:
                        fake.sent.append(body)
                self._json({"errcode": code, "errmsg": "ok" if code == 0 else f"emulated error {code}"})

        return Handler


class WeChatSender:
    """Calls our server URL the way WeChat's servers do, with its own hashlib signatures and its own AES
    (the `cryptography` package, not the code under test): plaintext, compatible or safe mode."""

    def __init__(self, client, token: str, appid: str, aes_key: str = "", mode: str = "plaintext",
                 account: str = "gh_10f6c3c3ac5a"):
        self.client, self.token, self.appid, self.aes_key, self.mode, self.account = \
            client, token, appid, aes_key, mode, account

    @staticmethod
    def sign(*parts: str) -> str:
        import hashlib

        return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()

    def _key(self) -> bytes:
        import base64

        return base64.b64decode(self.aes_key + "=")

    def encrypt(self, xml: str, appid: str | None = None) -> str:
        """AES-256-CBC, iv = key[:16], PKCS#7 to 32-byte blocks over random(16) + len(4, big-endian) + xml + appid."""
        import base64
        import os
        import struct

        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

        raw = xml.encode()
        plain = os.urandom(16) + struct.pack(">I", len(raw)) + raw + (appid or self.appid).encode()
        pad = 32 - len(plain) % 32
        plain += bytes([pad]) * pad
        key = self._key()
        enc = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
        return base64.b64encode(enc.update(plain) + enc.finalize()).decode()

    def decrypt(self, encrypted: str) -> tuple[str, str]:
        """(xml, appid) of an Encrypt value."""
        import base64
        import struct

        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

        key = self._key()
        dec = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
        plain = dec.update(base64.b64decode(encrypted)) + dec.finalize()
        plain = plain[:-plain[-1]]
        (length,) = struct.unpack(">I", plain[16:20])
        return plain[20:20 + length].decode(), plain[20 + length:].decode()

    @staticmethod
    def message_xml(fields: dict) -> str:
        parts = []
        for name, value in fields.items():
            if isinstance(value, int):
                parts.append(f"<{name}>{value}</{name}>")
            else:
                parts.append(f"<{name}><![CDATA[{value}]]></{name}>")
        return "<xml>" + "".join(parts) + "</xml>"

    def fields(self, openid: str, msg_type: str, **extra) -> dict:
        return {"ToUserName": self.account, "FromUserName": openid, "CreateTime": int(time.time()),
                "MsgType": msg_type, **extra}

    def post(self, fields: dict | None = None, *, body: bytes | str | None = None, mode: str | None = None,
             appid: str | None = None, signature: str | None = None, msg_signature: str | None = None,
             timestamp: str | None = None):
        """POST one message; returns the Flask test response."""
        mode = mode or self.mode
        timestamp = timestamp or str(int(time.time()))
        nonce = secrets.token_hex(5)
        query = {"timestamp": timestamp, "nonce": nonce, "openid": (fields or {}).get("FromUserName", "")}
        query["signature"] = signature or self.sign(self.token, timestamp, nonce)
        if body is None:
            inner = self.message_xml(fields)
            if mode == "plaintext":
                body = inner
            else:
                encrypted = self.encrypt(inner, appid)
                query["encrypt_type"] = "aes"
                query["msg_signature"] = msg_signature or self.sign(self.token, timestamp, nonce, encrypted)
                outer = {"ToUserName": self.account, **(fields if mode == "compatible" else {}), "Encrypt": encrypted}
                body = self.message_xml(outer)
        return self.client.post("/wechat", query_string=query, data=body, content_type="text/xml")

    def reply_of(self, resp) -> dict | None:
        """The reply's fields (decrypted and signature-checked in safe/compatible mode); None for "success"."""
        import xml.etree.ElementTree as ET

        assert resp.status_code == 200, (resp.status_code, resp.get_data(as_text=True))
        text = resp.get_data(as_text=True)
        if text == "success":
            return None
        root = ET.fromstring(text)
        if root.find("Encrypt") is not None:
            encrypted = root.findtext("Encrypt")
            sig = self.sign(self.token, root.findtext("TimeStamp"), root.findtext("Nonce"), encrypted)
            assert sig == root.findtext("MsgSignature")
            inner, appid = self.decrypt(encrypted)
            assert appid == self.appid
            root = ET.fromstring(inner)
        return {child.tag: child.text for child in root}

    def text(self, openid: str, content: str, msg_id: int | None = None, **kw) -> str | None:
        """Send a text message; the passive reply's Content, or None for "success"."""
        msg_id = msg_id or int.from_bytes(secrets.token_bytes(7), "big")
        reply = self.reply_of(self.post(self.fields(openid, "text", Content=content, MsgId=msg_id), **kw))
        return None if reply is None else reply["Content"]
