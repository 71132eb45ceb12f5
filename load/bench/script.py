"""The load script of the bench: senders holding a five-turn conversation, back to back.

Each sender has its own load-test merchant (:mod:`load.merchants`) and repeats the
conversation — greeting, two FAQ questions, verification and status in one message, thanks —
in the same conversation, sending each message the moment the previous answer arrives.
A turn counts as an error unless it is an HTTP 200 with at least one text reply, and the
verification turn must show the merchant's own application number.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from load.merchants import LoadMerchant

SESSION_HEADER: Final = "X-Posbot-Session"
REQUEST_TIMEOUT_SECONDS: Final = 120
MAX_PROBLEMS: Final = 5


@dataclass(frozen=True)
class Step:
    """One message of the conversation; ``shows`` names a merchant field the replies must
    contain (empty: any text reply will do)."""

    name: str
    message: str
    shows: str = ""

    def text_for(self, merchant: LoadMerchant) -> str:
        """The message with the merchant's identifiers filled in."""
        return self.message.format(
            merchant_id=merchant.merchant_id, phone_last4=merchant.phone_last4
        )


CONVERSATION: Final = (
    Step("greeting", "你好"),
    Step("faq: why suspended", "我的POS机为什么被停用"),
    Step("faq: how to unsuspend", "怎么解除停用"),
    Step(
        "verification and status",
        "商户号{merchant_id}，手机后四位{phone_last4}，查一下进度",
        shows="case_id",
    ),
    Step("thanks", "谢谢"),
)


@dataclass
class Turn:
    """One timed turn: its number in the conversation (from 1), seconds, and what was wrong."""

    sender: str
    number: int
    step: str
    seconds: float
    problem: str | None = None


@dataclass
class Run:
    """The turns of one load run and its wall-clock time."""

    turns: list[Turn] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def problems(self) -> list[str]:
        """What was wrong with the failed turns (the first few)."""
        return [f"{t.sender} #{t.number} {t.step}: {t.problem}" for t in self.turns if t.problem][
            :MAX_PROBLEMS
        ]

    @property
    def errors(self) -> int:
        """Number of failed turns."""
        return sum(1 for turn in self.turns if turn.problem)


def judge(step: Step, merchant: LoadMerchant, status: int, replies: Any) -> str | None:
    """Why the answer to ``step`` is wrong, or ``None``."""
    if status != 200:
        return f"HTTP {status}"
    texts = [str(reply.get("text") or "") for reply in replies if isinstance(reply, dict)]
    if not any(texts):
        return "no text reply"
    if step.shows and str(getattr(merchant, step.shows)) not in "\n".join(texts):
        return f"the replies do not show the merchant's {step.shows}"
    return None


async def converse(
    session: Any, webhook: str, sender: str, merchant: LoadMerchant, turns: int, run: Run
) -> None:
    """``turns`` turns of the conversation (repeated as often as needed), timing each."""
    token = ""  # the conversation's session token, issued with its first reply
    for number in range(1, turns + 1):
        step = CONVERSATION[(number - 1) % len(CONVERSATION)]
        headers = {SESSION_HEADER: token} if token else {}
        body = {"sender": sender, "message": step.text_for(merchant)}
        started = time.perf_counter()
        try:
            async with session.post(webhook, json=body, headers=headers) as response:
                replies = await response.json(content_type=None)
                status = response.status
                token = response.headers.get(SESSION_HEADER) or token
            problem = judge(step, merchant, status, replies)
        except (OSError, asyncio.TimeoutError, ValueError) as error:
            problem = f"{type(error).__name__}: {error}"
        seconds = time.perf_counter() - started
        run.turns.append(Turn(sender, number, step.name, seconds, problem))


async def load(webhook: str, merchants: Sequence[LoadMerchant], repeats: int, tag: str) -> Run:
    """One sender per merchant, all at once, each holding ``repeats`` conversations in a row
    with no pause; senders are ``bench-<tag>-<n>``."""
    import aiohttp

    run = Run()
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        started = time.perf_counter()
        await asyncio.gather(
            *(
                converse(
                    session, webhook, f"bench-{tag}-{merchant.index}", merchant,
                    repeats * len(CONVERSATION), run,
                )
                for merchant in merchants
            )
        )  # fmt: skip
        run.seconds = time.perf_counter() - started
    return run
