"""WeChat server-URL protocol: signatures, AES message crypto (wechatpy), safe XML in and out, text splitting."""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from xml.parsers import expat

MAX_TEXT_BYTES = 2048  # WeChat's limit for one text message (passive reply or customer-service push)
MAX_FIELD_CHARS = 20000
SENTENCE_END = re.compile(r"(?<=[。！？；!?;\n])")
XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class ProtocolError(ValueError):
    """A request that is not a genuine, well-formed WeChat message; `status` is the HTTP answer."""

    def __init__(self, reason: str, status: int = 400):
        super().__init__(reason)
        self.reason = reason
        self.status = status


def signature(*parts: str) -> str:
    """WeChat's signature: sha1 over the sorted parts, concatenated."""
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def check_signature(expected: str | None, *parts: str) -> None:
    if not expected or not hmac.compare_digest(signature(*parts), expected.lower()):
        raise ProtocolError("bad signature", 403)


def check_timestamp(timestamp: str | None, skew_seconds: int, now: float | None = None) -> None:
    """A replayed request from long ago is refused even when its signature is genuine."""
    if not timestamp or not timestamp.isdigit() or abs(int(timestamp) - (now or time.time())) > skew_seconds:
        raise ProtocolError("timestamp missing or outside the allowed window", 403)


def parse_xml(body: bytes | str) -> dict[str, str]:
    """The children of a flat `<xml>` document as strings. Any DTD or entity declaration is refused, so no
    entity (internal or external) is ever expanded; nested elements keep only their text."""
    parser = expat.ParserCreate("UTF-8")
    out: dict[str, str] = {}
    stack: list[str] = []
    buf: list[str] = []

    def refuse(*_args) -> None:
        raise ProtocolError("DTD or entity declarations are not allowed")

    def start(name: str, _attrs) -> None:
        stack.append(name)
        if len(stack) > 8:
            raise ProtocolError("XML nested too deep")
        if len(stack) == 2:
            buf.clear()

    def end(name: str) -> None:
        if len(stack) == 2:
            out[name] = "".join(buf)
        stack.pop()

    def text(data: str) -> None:
        if len(stack) >= 2:
            buf.append(data)
            if sum(map(len, buf)) > MAX_FIELD_CHARS:
                raise ProtocolError("XML field too long")

    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.UnparsedEntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    try:
        parser.Parse(body if isinstance(body, bytes) else body.encode("utf-8"), True)
    except expat.ExpatError as exc:
        raise ProtocolError(f"malformed XML: {exc}") from None
    return out


class MessageCrypto:
    """Safe/compatible-mode crypto: AES-256-CBC with key = b64decode(EncodingAESKey + "="), iv = key[:16];
    plaintext = 16 random bytes + 4-byte length + xml + AppID. wechatpy does the cipher work."""

    def __init__(self, token: str, aes_key: str, appid: str):
        from wechatpy.crypto import PrpCrypto

        try:
            key = base64.b64decode(aes_key + "=", validate=True)
        except (binascii.Error, ValueError):
            key = b""
        if len(aes_key) != 43 or len(key) != 32:
            raise ValueError("HOTLINE_WECHAT_AES_KEY must be the 43-character EncodingAESKey from the WeChat console")

        class _Prp(PrpCrypto):
            def get_random_string(self) -> str:  # wechatpy uses `random`; the prefix acts as the IV here
                return secrets.token_hex(8)

        self.token, self.appid, self._prp = token, appid, _Prp(key)

    def decrypt(self, encrypted: str, msg_signature: str | None, timestamp: str, nonce: str) -> str:
        """The inner XML of an `<Encrypt>` value; the signature and the AppID inside must match."""
        from wechatpy.exceptions import InvalidAppIdException

        check_signature(msg_signature, self.token, timestamp, nonce, encrypted)
        try:
            return self._prp.decrypt(encrypted, self.appid)
        except InvalidAppIdException:
            raise ProtocolError("AppID of the encrypted message does not match", 403) from None
        except Exception:  # noqa: BLE001 - base64, padding, length or UTF-8 errors all mean: not a valid message
            raise ProtocolError("encrypted message cannot be decrypted") from None

    def encrypt(self, xml: str, nonce: str, timestamp: str | None = None) -> str:
        """The reply envelope for safe mode: Encrypt, MsgSignature, TimeStamp, Nonce."""
        timestamp = timestamp or str(int(time.time()))
        encrypted = self._prp.encrypt(xml, self.appid).decode()
        sig = signature(self.token, timestamp, nonce, encrypted)
        return (f"<xml><Encrypt>{cdata(encrypted)}</Encrypt><MsgSignature>{cdata(sig)}</MsgSignature>"
                f"<TimeStamp>{timestamp}</TimeStamp><Nonce>{cdata(nonce)}</Nonce></xml>")


def cdata(text: str) -> str:
    """A CDATA section that survives any text: "]]>" is split across two sections; invalid XML chars go."""
    text = XML_INVALID.sub("", text)
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def text_reply(to_user: str, from_user: str, content: str, now: int | None = None) -> str:
    """A passive text reply (plaintext XML)."""
    return (f"<xml><ToUserName>{cdata(to_user)}</ToUserName><FromUserName>{cdata(from_user)}</FromUserName>"
            f"<CreateTime>{now or int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content>{cdata(content)}</Content></xml>")


def split_text(text: str, limit: int = MAX_TEXT_BYTES) -> list[str]:
    """Pieces of at most `limit` UTF-8 bytes, cut after sentence ends (。！？；\\n); a sentence longer than the
    limit is cut at a character boundary."""
    text = XML_INVALID.sub("", text)
    if len(text.encode()) <= limit:
        return [text] if text.strip() else []
    pieces: list[str] = []
    current = ""
    for sentence in SENTENCE_END.split(text):
        while len(sentence.encode()) > limit:  # one sentence beyond the limit: cut by characters
            head = sentence.encode()[:limit].decode("utf-8", errors="ignore")
            if current:
                pieces.append(current)
                current = ""
            pieces.append(head)
            sentence = sentence[len(head):]
        if len((current + sentence).encode()) > limit:
            pieces.append(current)
            current = sentence
        else:
            current += sentence
    if current:
        pieces.append(current)
    return [p for p in (p.strip("\n") for p in pieces) if p.strip()]


@dataclass(frozen=True)
class Inbound:
    """One message or event from a WeChat user, as the server URL received it."""

    to_user: str  # the official account's id
    from_user: str  # the user's openid
    create_time: str
    msg_type: str
    msg_id: str = ""
    content: str = ""
    event: str = ""
    event_key: str = ""
    recognition: str = ""

    @classmethod
    def from_fields(cls, fields: dict[str, str]) -> "Inbound":
        missing = [k for k in ("ToUserName", "FromUserName", "CreateTime", "MsgType") if not fields.get(k)]
        if missing:
            raise ProtocolError(f"message lacks {', '.join(missing)}")
        if len(fields["FromUserName"]) > 128 or not fields["CreateTime"].isdigit():
            raise ProtocolError("bad FromUserName or CreateTime")
        return cls(fields["ToUserName"], fields["FromUserName"], fields["CreateTime"], fields["MsgType"].lower(),
                   fields.get("MsgId", "")[:64], fields.get("Content", ""), fields.get("Event", "").lower(),
                   fields.get("EventKey", "")[:128], fields.get("Recognition", ""))

    @property
    def dedupe_key(self) -> str:
        """Messages are retried with the same MsgId; events have none, so FromUserName + CreateTime (with the
        event and its key, so two menu clicks within one second are not taken for a retry)."""
        if self.msg_id:
            return f"m:{self.from_user}:{self.msg_id}"
        return f"e:{self.from_user}:{self.create_time}:{self.event}:{self.event_key}"[:200]
