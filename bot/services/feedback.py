"""Feedback on answers: verdicts, satisfaction ratings, and the related questions to offer.

Verdicts (``helpful`` / ``not_helpful``) and ratings (1-5) are checked here before anything is
stored; the conversation is stored as :func:`sender_hash`, never as its id. The related
questions ("猜你想问") after an answer are the intents merchants most often asked next, counted
in the tracker store over a window (:class:`RelatedQuestions`, read at most once per
``ttl_seconds`` per process), with a built-in order from the product's flows when the window
holds too few transitions.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from sqlalchemy.exc import SQLAlchemyError

from bot.redaction import mask_pii
from bot.services.base import StoreService
from bot.settings import TRACKER_URL
from bot.store.feedback import FeedbackRepository, TrackerIntents, UnhelpfulAnswer

logger = logging.getLogger(__name__)

HELPFUL: Final = "helpful"
NOT_HELPFUL: Final = "not_helpful"
VERDICTS: Final = (HELPFUL, NOT_HELPFUL)
#: BotUttered metadata key of the offer under an answer: {"intent": ..., "response": ...}.
OFFER_KEY: Final = "posbot_feedback"
FEEDBACK_INTENT: Final = "answer_feedback"
VERDICT_ENTITY: Final = "verdict"
#: BotUttered metadata key of the rating question after a human conversation: {"agent_id": ...}.
RATING_KEY: Final = "posbot_rating"
RATING_INTENT: Final = "rate_service"
SCORE_ENTITY: Final = "score"
MIN_SCORE: Final = 1
MAX_SCORE: Final = 5
MAX_TEXT_CHARS: Final = 500
MAX_NAME_CHARS: Final = 64
RELATED_LIMIT: Final = 3
# Transitions out of an intent needed before the data decides (below: the built-in order).
MIN_TRANSITIONS: Final = 5
WINDOW_DAYS: Final = 30
TTL_SECONDS: Final = 600.0
# Bound on the user messages one refresh reads (newest window first is not needed: counts).
MAX_ROWS: Final = 200_000
_SENDER_HASH_PREFIX: Final = b"posbot-feedback:"

#: Intents whose answers get the feedback buttons, and that related questions may suggest.
#: The order is the built-in fallback order's tie-breaker.
ANSWER_INTENTS: Final = (
    "ask_suspend_reason",
    "ask_required_documents",
    "ask_unsuspend_process",
    "ask_review_time",
    "check_case_status",
    "report_rejected",
    "ask_fees",
    "report_error_code",
    "report_hardware_fault",
    "report_network_problem",
    "ask_maintenance",
    "ask_after_reactivation",
    "ask_prevention",
    "report_fraud",
    "ask_pos_types",
    "ask_contact",
)

#: What merchants ask next when there is too little data, following the stories and the
#: suspension flow of docs/architecture.md (reason -> documents -> apply -> review -> status).
DEFAULT_NEXT: Final[Mapping[str, tuple[str, ...]]] = {
    "ask_suspend_reason": ("ask_required_documents", "ask_unsuspend_process", "ask_review_time"),
    "ask_required_documents": ("ask_unsuspend_process", "ask_review_time", "ask_fees"),
    "ask_unsuspend_process": ("ask_required_documents", "ask_review_time", "ask_fees"),
    "ask_review_time": ("check_case_status", "report_rejected", "ask_after_reactivation"),
    "check_case_status": ("ask_review_time", "report_rejected", "ask_after_reactivation"),
    "report_rejected": ("ask_required_documents", "ask_unsuspend_process", "ask_contact"),
    "ask_fees": ("report_fraud", "ask_unsuspend_process", "ask_required_documents"),
    "report_error_code": ("ask_suspend_reason", "ask_unsuspend_process", "report_network_problem"),
    "report_hardware_fault": ("ask_contact", "ask_prevention", "ask_unsuspend_process"),
    "report_network_problem": ("ask_maintenance", "report_hardware_fault", "ask_contact"),
    "ask_maintenance": ("report_network_problem", "ask_contact", "ask_prevention"),
    "ask_after_reactivation": ("ask_prevention", "ask_contact", "ask_pos_types"),
    "ask_prevention": ("ask_after_reactivation", "ask_suspend_reason", "ask_contact"),
    "report_fraud": ("ask_fees", "ask_contact", "ask_unsuspend_process"),
    "ask_pos_types": ("ask_fees", "ask_unsuspend_process", "ask_contact"),
    "ask_contact": ("ask_unsuspend_process", "ask_review_time", "check_case_status"),
}


def sender_hash(sender_id: str) -> str:
    """The conversation as stored with feedback: SHA-256 of the sender id (64 hex digits)."""
    return hashlib.sha256(_SENDER_HASH_PREFIX + sender_id.encode("utf-8", "replace")).hexdigest()


def parse_verdict(value: Any) -> str | None:
    """``helpful`` or ``not_helpful``; anything else (types, case, padding) is None."""
    return value if isinstance(value, str) and value in VERDICTS else None


def parse_score(value: Any) -> int | None:
    """A score 1-5 from an int or a string of one digit; anything else is None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, int) and MIN_SCORE <= value <= MAX_SCORE:
        return value
    return None


def _name(value: str) -> str:
    return "".join(c for c in value if c.isascii() and (c.isalnum() or c == "_"))[:MAX_NAME_CHARS]


class FeedbackService(StoreService):
    """Stores verdicts and ratings (one transaction each) and summarises them."""

    async def record_verdict(
        self,
        *,
        sender_id: str,
        intent: str,
        response: str,
        verdict: str,
        text: str,
        now: datetime,
    ) -> None:
        """Stores a verdict on an answer; ``text`` (the merchant's message) is masked.

        Raises:
            ValueError: the verdict or the names are not acceptable (nothing is stored).
            StoreUnavailable: the database failed.
        """
        checked = parse_verdict(verdict)
        intent_name, response_name = _name(intent), _name(response)
        if checked is None or not intent_name or not response_name:
            raise ValueError("verdict must be helpful or not_helpful, with intent and response")
        masked = mask_pii(text)[:MAX_TEXT_CHARS]
        hashed = sender_hash(sender_id)
        await self.transaction(
            lambda session: FeedbackRepository(session).add_feedback(
                intent=intent_name,
                response=response_name,
                verdict=checked,
                masked_text=masked,
                sender_hash=hashed,
                now=now,
            )
        )

    async def record_rating(
        self, *, sender_id: str, agent_id: str, score: Any, now: datetime
    ) -> int:
        """Stores a 1-5 rating of an agent's conversation; returns the score.

        Raises:
            ValueError: the score is not 1-5 or there is no agent (nothing is stored).
            StoreUnavailable: the database failed.
        """
        checked = parse_score(score)
        agent = agent_id.strip()[:MAX_NAME_CHARS] if isinstance(agent_id, str) else ""
        if checked is None or not agent:
            raise ValueError("score must be 1-5, after a human conversation")
        hashed = sender_hash(sender_id)
        await self.transaction(
            lambda session: FeedbackRepository(session).add_rating(
                sender_hash=hashed, agent_id=agent, score=checked, now=now
            )
        )
        return checked

    async def unhelpful_answers(
        self, since: datetime | None = None, limit: int = 10
    ) -> list[UnhelpfulAnswer]:
        """The answers most often marked not helpful, with masked examples."""
        return await self.transaction(
            lambda session: FeedbackRepository(session).unhelpful_answers(
                since=since, limit=limit, not_helpful=NOT_HELPFUL, helpful=HELPFUL
            )
        )


def count_transitions(
    sequences: Iterable[Sequence[str]], intents: Iterable[str] = ANSWER_INTENTS
) -> dict[str, Counter[str]]:
    """How often each answer intent was followed by another one in the same conversation.

    Intents outside ``intents`` (greetings, thanks, ids, feedback clicks) are skipped, so
    "审核要多久 / 谢谢 / 查进度" counts ask_review_time -> check_case_status; a repeated
    intent is not a transition.
    """
    wanted = set(intents)
    counts: dict[str, Counter[str]] = {}
    for sequence in sequences:
        previous: str | None = None
        for intent in sequence:
            if intent not in wanted:
                continue
            if previous is not None and intent != previous:
                counts.setdefault(previous, Counter())[intent] += 1
            previous = intent
    return counts


def rank_related(
    intent: str,
    counts: Mapping[str, Counter[str]],
    limit: int = RELATED_LIMIT,
    min_transitions: int = MIN_TRANSITIONS,
) -> list[str]:
    """Up to ``limit`` intents to suggest after an answer to ``intent``.

    With at least ``min_transitions`` transitions out of ``intent`` the most frequent next
    intents come first (ties in the built-in order), the built-in order fills up the rest;
    with fewer, the built-in order alone.
    """
    defaults = [i for i in DEFAULT_NEXT.get(intent, ()) if i != intent]
    fallback = defaults + [i for i in ANSWER_INTENTS if i not in defaults and i != intent]
    observed = counts.get(intent) or Counter()
    ranked: list[str] = []
    if sum(observed.values()) >= min_transitions:
        position = {name: n for n, name in enumerate(fallback)}
        ranked = sorted(
            (i for i in observed if i != intent and i in position),
            key=lambda i: (-observed[i], position[i]),
        )
    for candidate in defaults:
        if candidate not in ranked:
            ranked.append(candidate)
    return ranked[:limit]


class RelatedQuestions:
    """Related questions from the tracker store's transitions, cached per process.

    The first call reads the window; later calls use the cache and refresh it in the
    background once it is older than ``ttl_seconds`` (never a query per turn). A database
    failure is logged and the built-in order is used until the next refresh.
    """

    def __init__(
        self,
        tracker_url: str | None = None,
        *,
        window_days: float = WINDOW_DAYS,
        ttl_seconds: float = TTL_SECONDS,
        min_transitions: int = MIN_TRANSITIONS,
        max_rows: int = MAX_ROWS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._url = tracker_url
        self.window_days = window_days
        self.ttl_seconds = ttl_seconds
        self.min_transitions = min_transitions
        self.max_rows = max_rows
        self.clock = clock
        self._reader: TrackerIntents | None = None
        self._counts: dict[str, Counter[str]] | None = None
        self._loaded_at = 0.0
        self._refreshing: asyncio.Task[None] | None = None
        self.reads = 0

    def _read(self) -> dict[str, Counter[str]]:
        if self._reader is None:
            self._reader = TrackerIntents(self._url or TRACKER_URL.read())
        since = self.clock() - self.window_days * 86400
        self.reads += 1
        try:
            return count_transitions(self._reader.sequences(since, self.max_rows))
        except (SQLAlchemyError, ValueError) as error:
            # A store without conversations yet has no events table: nothing observed. A
            # ValueError: an unusable POSBOT_TRACKER_URL (logged, the built-in order is used).
            logger.error("related questions: tracker store unreadable: %s", type(error).__name__)
            return {}

    async def _refresh(self) -> None:
        counts = await asyncio.to_thread(self._read)
        self._counts, self._loaded_at = counts, self.clock()

    async def counts(self) -> dict[str, Counter[str]]:
        """The cached transitions (read now on first use, refreshed in the background later)."""
        if self._counts is None:
            if self._refreshing is None or self._refreshing.done():
                self._refreshing = asyncio.ensure_future(self._refresh())
            await asyncio.shield(self._refreshing)
        elif self.clock() - self._loaded_at > self.ttl_seconds and (
            self._refreshing is None or self._refreshing.done()
        ):
            self._refreshing = asyncio.ensure_future(self._refresh())
        return self._counts or {}

    async def related(self, intent: str, limit: int = RELATED_LIMIT) -> list[str]:
        """Up to ``limit`` intents to suggest after an answer to ``intent``."""
        return rank_related(intent, await self.counts(), limit, self.min_transitions)
