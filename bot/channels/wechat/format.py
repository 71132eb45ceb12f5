"""Turns the bot's messages into WeChat text: numbered options, size-limited chunks, reply XML."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from wechatpy.messages import BaseMessage
from wechatpy.replies import TextReply

from bot.domain_values import to_half_width

# WeChat's limit for the content of a passive text reply, in UTF-8 bytes.
MAX_REPLY_BYTES: Final = 2048
MESSAGE_SEPARATOR: Final = "\n\n"
OPTIONS_HEADER: Final = "回复数字选择："
MAX_OPTION_DIGITS: Final = 2

_OPTION_RE: Final = re.compile(rf"[0-9]{{1,{MAX_OPTION_DIGITS}}}")
# Characters XML 1.0 does not allow (a reply containing one would be rejected by WeChat).
_XML_INVALID_RE: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_CDATA_END: Final = "]]>"
_CDATA_END_SPLIT: Final = "]]]]><![CDATA[>"


@dataclass(frozen=True)
class BotReply:
    """The text of one bot turn, split for WeChat, and the payloads of its numbered options."""

    chunks: tuple[str, ...]
    payloads: tuple[str, ...]


def build_reply(
    messages: Iterable[Mapping[str, Any]], max_bytes: int = MAX_REPLY_BYTES
) -> BotReply:
    """Joins the collected bot messages with blank lines and splits the text into chunks.

    Buttons are numbered across the whole turn, so the digits stay unique.

    Args:
        messages: messages collected by a ``CollectingOutputChannel``.
        max_bytes: the size limit of one chunk in UTF-8 bytes.
    """
    parts: list[str] = []
    payloads: list[str] = []
    for message in messages:
        lines = [str(message[key]) for key in ("text", "image", "attachment") if message.get(key)]
        custom = message.get("custom")
        if isinstance(custom, Mapping) and isinstance(custom.get("text"), str):
            lines.append(custom["text"])
        options = []
        for button in message.get("buttons") or []:
            title = str(button.get("title") or button.get("payload") or "").strip()
            if not title:
                continue
            payloads.append(str(button.get("payload") or title))
            options.append(f"{len(payloads)}. {title}")
        if options:
            lines.append("\n".join([OPTIONS_HEADER, *options]))
        text = "\n".join(line.strip() for line in lines if line.strip())
        if text:
            parts.append(text)
    return BotReply(tuple(split_text(MESSAGE_SEPARATOR.join(parts), max_bytes)), tuple(payloads))


def split_text(text: str, max_bytes: int = MAX_REPLY_BYTES) -> list[str]:
    """Splits ``text`` on line boundaries into chunks of at most ``max_bytes`` UTF-8 bytes.

    A single line longer than the limit is cut between characters.
    """
    chunks: list[str] = []
    current = ""
    for line in text.split("\n"):
        for piece in _cut_long_line(line, max_bytes):
            candidate = f"{current}\n{piece}" if current else piece
            if current and _size(candidate) > max_bytes:
                chunks.append(current)
                current = piece
            else:
                current = candidate
    chunks.append(current)
    return [chunk.strip("\n") for chunk in chunks if chunk.strip()]


def option_payload(text: str, payloads: Sequence[str]) -> str | None:
    """The payload of option ``text`` ("1" or full-width "１"), or ``None`` if it is no option."""
    choice = to_half_width(text).strip()
    if not payloads or not _OPTION_RE.fullmatch(choice):
        return None
    index = int(choice) - 1
    return payloads[index] if 0 <= index < len(payloads) else None


def text_reply_xml(message: BaseMessage, content: str) -> str:
    """The passive reply XML answering ``message`` with ``content``."""
    reply = TextReply(message=message, content=xml_safe(content))
    return reply.render()


def xml_safe(content: str) -> str:
    """Drops characters XML cannot carry and keeps ``]]>`` from closing the CDATA section."""
    return _XML_INVALID_RE.sub("", content).replace(_CDATA_END, _CDATA_END_SPLIT)


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def _cut_long_line(line: str, max_bytes: int) -> list[str]:
    if _size(line) <= max_bytes:
        return [line]
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    for char in line:
        char_size = _size(char)
        if size + char_size > max_bytes:
            pieces.append("".join(current))
            current, size = [], 0
        current.append(char)
        size += char_size
    pieces.append("".join(current))
    return pieces
