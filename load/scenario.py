"""The conversation each simulated merchant holds, and how a reply is judged.

A turn passes only when the bot's replies contain, in order, the domain responses expected at
that step (texts from ``domain.yml`` with the merchant's own identifiers filled in; buttons, when
the response has some, must carry the same payloads). An HTTP 200 with the wrong answer fails.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import yaml

from load.merchants import LoadMerchant

DOMAIN_FILE: Final = Path("domain.yml")
_SLOT_RE: Final = re.compile(r"\\\{(\w+)\\\}")

Reply = Mapping[str, Any]


@dataclass(frozen=True)
class Expected:
    """One domain response expected in the replies; ``slots`` are filled from the merchant."""

    response: str
    slots: tuple[str, ...] = ()


@dataclass(frozen=True)
class Turn:
    """One user message and the responses it must produce."""

    name: str
    message: str
    expected: tuple[Expected, ...] = field(default_factory=tuple)

    def text_for(self, merchant: LoadMerchant) -> str:
        """The message with the merchant's identifiers filled in."""
        return self.message.format(
            merchant_id=merchant.merchant_id, phone_last4=merchant.phone_last4
        )


CONVERSATION: Final = (
    Turn("1 greet", "你好", (Expected("utter_greet"),)),
    Turn(
        "2 reason",
        "我的POS机为什么被停用",
        (Expected("utter_suspend_reason_general"), Expected("utter_offer_verify")),
    ),
    Turn("3 merchant id", "商户号{merchant_id}", (Expected("utter_ask_phone_last4"),)),
    Turn(
        "4 phone last4",
        "{phone_last4}",
        (
            Expected("utter_verified"),
            Expected("utter_terminal_suspended", ("terminal_id",)),
            Expected("utter_documents_license_expired"),
        ),
    ),
    Turn(
        "5 status",
        "查一下申请进度",
        (Expected("utter_case_status_under_review", ("case_id", "terminal_id")),),
    ),
    Turn("6 thank", "谢谢", (Expected("utter_thank"),)),
)


def load_responses(domain_file: Path = DOMAIN_FILE) -> dict[str, list[dict[str, Any]]]:
    """The ``responses`` section of the domain."""
    domain = yaml.safe_load(domain_file.read_text(encoding="utf-8")) or {}
    return domain.get("responses") or {}


def _pattern(template: str, values: Mapping[str, str]) -> re.Pattern[str]:
    """A template as a full-text pattern: known slots literal, other slots any text."""

    def slot(match: re.Match[str]) -> str:
        name = match.group(1)
        return re.escape(values[name]) if name in values else ".+?"

    return re.compile(_SLOT_RE.sub(slot, re.escape(template.strip())), re.DOTALL)


def _payloads(buttons: Sequence[Mapping[str, Any]] | None) -> list[str]:
    return [str(button.get("payload", "")) for button in buttons or ()]


class ReplyJudge:
    """Decides whether the replies to a turn are the expected ones."""

    def __init__(self, responses: Mapping[str, list[dict[str, Any]]]) -> None:
        self._responses = responses
        missing = {
            expected.response
            for turn in CONVERSATION
            for expected in turn.expected
            if expected.response not in responses
        }
        if missing:
            raise ValueError(f"responses missing from the domain: {', '.join(sorted(missing))}")

    def _matches(self, expected: Expected, merchant: LoadMerchant, reply: Reply) -> bool:
        values = {slot: str(getattr(merchant, slot)) for slot in expected.slots}
        text = str(reply.get("text") or "").strip()
        for variation in self._responses[expected.response]:
            if not _pattern(str(variation.get("text", "")), values).fullmatch(text):
                continue
            if "buttons" in variation and _payloads(variation["buttons"]) != _payloads(
                reply.get("buttons")
            ):
                continue
            return True
        return False

    def problem(self, turn: Turn, merchant: LoadMerchant, replies: Sequence[Reply]) -> str | None:
        """None when every expected response is among ``replies`` in order, else why not."""
        position = 0
        for expected in turn.expected:
            while position < len(replies) and not self._matches(
                expected, merchant, replies[position]
            ):
                position += 1
            if position == len(replies):
                texts = " | ".join(str(reply.get("text", ""))[:40] for reply in replies)
                return f"expected {expected.response}, got: {texts or '(no reply)'}"
            position += 1
        return None
