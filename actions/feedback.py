"""Verdicts on answers ("有帮助 / 没帮助") and ratings of human conversations (1-5).

Both come as button payloads: ``/answer_feedback{"verdict": "helpful"}`` under an answer
(:mod:`bot.feedback_offer`) and ``/rate_service{"score": 5}`` under the question the agent
desk adds when an agent hands a conversation back. A verdict or score is accepted only for
the question the bot asked just before (the bot message since the user's previous message
carrying the offer's metadata), and only with a valid value; anything else gets a polite
refusal and nothing is stored.
"""

from __future__ import annotations

from typing import Any, Final

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.base import DomainDict, StoreUnavailable, latest_entity
from actions.constants import UTTER_STORE_UNAVAILABLE
from bot.clock import Clock, china_now
from bot.services.feedback import (
    FEEDBACK_INTENT,
    HELPFUL,
    OFFER_KEY,
    RATING_KEY,
    SCORE_ENTITY,
    VERDICT_ENTITY,
    FeedbackService,
    parse_score,
    parse_verdict,
)

UTTER_THANKS: Final = "utter_feedback_thanks"
UTTER_SORRY: Final = "utter_feedback_sorry"
UTTER_INVALID: Final = "utter_feedback_invalid"
UTTER_NO_ANSWER: Final = "utter_feedback_no_answer"
UTTER_RATING_THANKS: Final = "utter_rating_thanks"
UTTER_RATING_INVALID: Final = "utter_rating_invalid"
UTTER_RATING_NO_HANDOFF: Final = "utter_rating_no_handoff"


def asked_before(events: list[dict[str, Any]], key: str) -> tuple[dict[str, Any], str] | None:
    """The metadata under ``key`` of a bot message since the user's previous message, and the
    text of that previous message; None when the bot asked no such question."""
    users = 0
    found: dict[str, Any] | None = None
    for event in reversed(events):
        kind = event.get("event")
        if kind == "user":
            users += 1
            if users == 2:
                return (found, str(event.get("text") or "")) if found is not None else None
        elif kind == "bot" and users == 1 and found is None:
            value = (event.get("metadata") or {}).get(key)
            if isinstance(value, dict):
                found = value
    return (found, "") if found is not None else None


class FeedbackBacked:
    """Gives an action the feedback service and the clock (tests pass their own)."""

    def __init__(self, feedback: FeedbackService | None = None, clock: Clock = china_now) -> None:
        self.feedback = feedback or FeedbackService()
        self.clock = clock


class ActionAnswerFeedback(FeedbackBacked, Action):
    """answer_feedback: stores the verdict on the answer just given; apologises for a bad one."""

    def name(self) -> str:
        return f"action_{FEEDBACK_INTENT}"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list:
        verdict = parse_verdict(latest_entity(tracker, VERDICT_ENTITY))
        asked = asked_before(tracker.events, OFFER_KEY)
        if asked is None:
            dispatcher.utter_message(response=UTTER_NO_ANSWER)
            return []
        if verdict is None:
            dispatcher.utter_message(response=UTTER_INVALID)
            return []
        offer, text = asked
        try:
            await self.feedback.record_verdict(
                sender_id=tracker.sender_id,
                intent=str(offer.get("intent") or ""),
                response=str(offer.get("response") or ""),
                verdict=verdict,
                text=text,
                now=self.clock(),
            )
        except ValueError:
            dispatcher.utter_message(response=UTTER_NO_ANSWER)
            return []
        except StoreUnavailable:
            dispatcher.utter_message(response=UTTER_STORE_UNAVAILABLE)
            return []
        dispatcher.utter_message(response=UTTER_THANKS if verdict == HELPFUL else UTTER_SORRY)
        return []


class ActionRateService(FeedbackBacked, Action):
    """rate_service: stores a 1-5 rating of the human conversation that just ended."""

    def name(self) -> str:
        return "action_rate_service"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list:
        asked = asked_before(tracker.events, RATING_KEY)
        if asked is None:
            dispatcher.utter_message(response=UTTER_RATING_NO_HANDOFF)
            return []
        score = parse_score(latest_entity(tracker, SCORE_ENTITY))
        if score is None:
            dispatcher.utter_message(response=UTTER_RATING_INVALID)
            return []
        try:
            await self.feedback.record_rating(
                sender_id=tracker.sender_id,
                agent_id=str(asked[0].get("agent_id") or ""),
                score=score,
                now=self.clock(),
            )
        except ValueError:
            dispatcher.utter_message(response=UTTER_RATING_NO_HANDOFF)
            return []
        except StoreUnavailable:
            dispatcher.utter_message(response=UTTER_STORE_UNAVAILABLE)
            return []
        dispatcher.utter_message(response=UTTER_RATING_THANKS, score=score)
        return []
