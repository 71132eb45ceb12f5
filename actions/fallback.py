"""Low-confidence messages: ask which of the two likeliest questions was meant.

A message the scope gate set aside only for naming nothing of the domain ("要多长时间", "在哪里办")
is a follow-up when the conversation was on a POS topic just before: then the classifier's
guess is taken, as if the message had been understood (the user turn is rewritten, and the
rules answer it). Alone, it gets the question back like any other miss.
"""

from __future__ import annotations

import logging

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher

from actions.base import DomainDict, StoreBacked, StoreUnavailable, response_text
from actions.constants import NLU_FALLBACK, OFF_TOPIC_INTENTS, SOCIAL_INTENTS
from actions.handoff import hand_off
from bot.nlu.evidence import LOW_EVIDENCE_KEY, low_evidence_guess

logger = logging.getLogger(__name__)

CLARIFY_ACTION = "action_clarify"
ACTION_LISTEN = "action_listen"
TOPIC_RESPONSE = "utter_topic_{}"


def previous_user_intent(tracker: Tracker) -> str | None:
    """The intent of the user message before the latest one."""
    users = [event for event in tracker.events if event.get("event") == "user"]
    if len(users) < 2:
        return None
    return _intent_of(users[-2])


def _intent_of(event: dict) -> str | None:
    return ((event.get("parse_data") or {}).get("intent") or {}).get("name")


def on_topic(tracker: Tracker) -> bool:
    """Whether the conversation was about the POS service just before the latest message.

    True in a form, or when the latest earlier user message of this session that is not small
    talk (yes/no, thanks, greetings) had a POS intent.
    """
    if tracker.active_loop.get("name"):
        return True
    for event in reversed(_session_user_turns(tracker.events)[:-1]):
        intent = _intent_of(event)
        if intent in SOCIAL_INTENTS:
            continue
        return intent is not None and intent not in OFF_TOPIC_INTENTS
    return False


def _session_user_turns(events: list[dict]) -> list[dict]:
    """User messages of the current session, without those taken back (rewind)."""
    turns: list[dict] = []
    for event in events:
        kind = event.get("event")
        if kind in ("session_started", "restart"):
            turns = []
        elif kind == "user":
            turns.append(event)
        elif kind == "rewind" and turns:
            turns.pop()
    return turns


def understood_as_guess(tracker: Tracker, guess: str) -> list[dict]:
    """Events that replace the latest user turn by the same message with ``guess`` as intent."""
    latest = next(e for e in reversed(tracker.events) if e.get("event") == "user")
    parse_data = dict(tracker.latest_message)
    ranking = [
        item
        for item in parse_data.get("intent_ranking") or []
        if item.get("name") not in (NLU_FALLBACK, guess)
    ]
    mark = dict(parse_data.get(LOW_EVIDENCE_KEY) or {})
    intent = {"name": guess, "confidence": mark.get("confidence")}
    parse_data.update(
        intent=intent,
        intent_ranking=[intent, *ranking],
        **{LOW_EVIDENCE_KEY: {**mark, "kept_in_context": True}},
    )
    return [
        UserUtteranceReverted(),
        ActionExecuted(ACTION_LISTEN),
        {**latest, "timestamp": None, "parse_data": parse_data},
    ]


class ActionClarify(StoreBacked, Action):
    """First miss: "您是想问…吗？" with two buttons; a second miss in a row: a human takes over."""

    def name(self) -> str:
        return CLARIFY_ACTION

    async def _record_miss(self, tracker: Tracker) -> None:
        """Keeps the missed message (masked) for `posbot review`; never fails the reply."""
        ranking = [
            item
            for item in tracker.latest_message.get("intent_ranking") or []
            if item.get("name") != NLU_FALLBACK
        ]
        guess = ranking[0] if ranking else {}
        try:
            await self.misses.record(
                sender_id=tracker.sender_id,
                text=str(tracker.latest_message.get("text") or ""),
                guess=guess.get("name"),
                confidence=guess.get("confidence"),
                now=self.clock(),
            )
        except StoreUnavailable:
            logger.warning("could not record a missed message: case store unavailable")

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list:
        guess = low_evidence_guess(tracker.latest_message)
        if guess and on_topic(tracker):
            return understood_as_guess(tracker, guess)
        await self._record_miss(tracker)
        if previous_user_intent(tracker) == NLU_FALLBACK:
            return await hand_off(self, dispatcher, tracker, reason="连续两次未能理解")
        ranking = tracker.latest_message.get("intent_ranking") or []
        topics = []
        for candidate in ranking:
            intent = candidate.get("name")
            title = response_text(domain, TOPIC_RESPONSE.format(intent))
            if intent != NLU_FALLBACK and title:
                topics.append((intent, title))
            if len(topics) == 2:
                break
        if not topics:
            dispatcher.utter_message(response="utter_default")
            return []
        buttons = [{"title": title, "payload": f"/{intent}"} for intent, title in topics]
        buttons.append({"title": response_text(domain, "utter_topic_other"), "payload": "/deny"})
        if len(topics) == 2:
            dispatcher.utter_message(
                response="utter_clarify", first=topics[0][1], second=topics[1][1], buttons=buttons
            )
        else:
            dispatcher.utter_message(
                response="utter_clarify_single", first=topics[0][1], buttons=buttons
            )
        return []
