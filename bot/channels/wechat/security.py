"""Checks and decodes WeChat callback requests: size, freshness, signatures, XML, encryption."""

from __future__ import annotations

import base64
import binascii
import hmac
import struct
from collections.abc import Mapping
from http import HTTPStatus
from typing import Final
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from sanic.request import Request
from wechatpy.crypto import WeChatCrypto
from wechatpy.crypto.cryptography import WeChatCipher
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.utils import WeChatSigner

from bot.channels.body import BodyTooLarge, read_limited_body
from bot.channels.state.wechat import MAX_CLOCK_SKEW_SECONDS

MAX_BODY_BYTES: Final = 64 * 1024
ENCRYPTED_FIELD: Final = "Encrypt"
ROOT_TAG: Final = "xml"

_AES_BLOCK_BYTES: Final = 16
_RANDOM_PREFIX_BYTES: Final = 16
_MAX_PADDING: Final = 32
_LENGTH_BYTES: Final = 4


class RequestRejected(Exception):
    """A callback request that must not reach the bot; ``reason`` never contains its content."""

    def __init__(self, status: HTTPStatus, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def forbidden(reason: str) -> RequestRejected:
    """A 403 rejection."""
    return RequestRejected(HTTPStatus.FORBIDDEN, reason)


def bad_request(reason: str) -> RequestRejected:
    """A 400 rejection."""
    return RequestRejected(HTTPStatus.BAD_REQUEST, reason)


async def read_body(request: Request, max_bytes: int = MAX_BODY_BYTES) -> bytes:
    """Reads the body of a streaming route, refusing more than ``max_bytes``.

    Raises:
        RequestRejected: 413 when the declared or actual size is too large.
    """
    try:
        return await read_limited_body(request, max_bytes)
    except BodyTooLarge:
        raise RequestRejected(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "body too large") from None


def check_freshness(timestamp: str, now: float, max_skew: int = MAX_CLOCK_SKEW_SECONDS) -> None:
    """Refuses timestamps more than ``max_skew`` seconds in the past or future."""
    if not (timestamp.isascii() and timestamp.isdigit()):
        raise forbidden("missing or invalid timestamp")
    if abs(now - int(timestamp)) > max_skew:
        raise forbidden("stale timestamp")


def check_signature(
    signature: str, token: str, *values: str, reason: str = "bad signature"
) -> None:
    """Compares WeChat's SHA-1 signature of the sorted ``token`` and ``values`` in constant time."""
    signer = WeChatSigner()
    signer.add_data(token, *values)
    if not signature or not hmac.compare_digest(signer.signature, signature.lower()):
        raise forbidden(reason)


def parse_xml(data: bytes | str) -> dict[str, str]:
    """The top-level fields of a WeChat XML document, refusing DTDs, entities and bad XML.

    Raises:
        RequestRejected: 400 when the document is malformed or dangerous.
    """
    try:
        root = fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as error:
        raise bad_request(f"forbidden XML construct ({type(error).__name__})") from None
    except (ParseError, ValueError):
        raise bad_request("malformed XML") from None
    if root.tag != ROOT_TAG:
        raise bad_request("unexpected XML root element")
    return {child.tag: (child.text or "").strip() for child in root}


def decrypt_message(
    crypto: WeChatCrypto,
    fields: Mapping[str, str],
    msg_signature: str,
    timestamp: str,
    nonce: str,
) -> str:
    """Verifies ``msg_signature`` and decrypts the ``Encrypt`` field with wechatpy.

    wechatpy checks the AppID but not the padding, so the ciphertext is validated first.

    Raises:
        RequestRejected: 403 for a bad signature or AppID, 400 for a malformed ciphertext.
    """
    encrypted = fields.get(ENCRYPTED_FIELD, "")
    if not encrypted:
        raise bad_request("missing Encrypt element")
    check_signature(
        msg_signature, crypto.token, timestamp, nonce, encrypted, reason="bad msg_signature"
    )
    _validate_ciphertext(crypto.key, encrypted)
    try:
        return crypto.decrypt_message(
            {ENCRYPTED_FIELD: encrypted}, msg_signature.lower(), timestamp, nonce
        )
    except InvalidSignatureException:
        raise forbidden("bad msg_signature") from None
    except InvalidAppIdException:
        raise forbidden("wrong AppID in the encrypted message") from None
    except (ValueError, struct.error, IndexError):
        raise bad_request("undecryptable message") from None


def _validate_ciphertext(key: bytes, encrypted: str) -> None:
    try:
        ciphertext = base64.b64decode(encrypted, validate=True)
    except (binascii.Error, ValueError):
        raise bad_request("invalid base64 in Encrypt") from None
    if not ciphertext or len(ciphertext) % _AES_BLOCK_BYTES:
        raise bad_request("ciphertext is not a whole number of AES blocks")
    plain = WeChatCipher(key).decrypt(ciphertext)
    padding = plain[-1]
    if not 1 <= padding <= _MAX_PADDING or plain[-padding:] != bytes([padding]) * padding:
        raise bad_request("invalid AES padding")
    content = plain[_RANDOM_PREFIX_BYTES:-padding]
    if len(content) < _LENGTH_BYTES:
        raise bad_request("encrypted message too short")
    (length,) = struct.unpack(">I", content[:_LENGTH_BYTES])
    if length > len(content) - _LENGTH_BYTES:
        raise bad_request("invalid length in the encrypted message")
