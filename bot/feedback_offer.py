"""After an answer: "有帮助 / 没帮助" buttons and up to three related questions (猜你想问).

:func:`install` wraps Rasa's ``MessageProcessor._run_action``: when the policies have finished
a turn (just before its closing ``action_listen``), :func:`answer_of_turn` decides whether the
turn was an answer worth asking about, and :func:`offer_feedback` adds one bot message with
the verdict buttons and the related questions of
:class:`bot.services.feedback.RelatedQuestions`. Doing it once per turn, after the dialogue,
keeps every rule and story as it is (no extra action to predict) and gives the offer at most
once per answer, always as the turn's last message (the widget shows the buttons of the last
message only; WeChat numbers them as text).

No offer when the turn was not an answer: greetings, thanks, ids, a form in progress, a
paused conversation (a human has it), a handoff, a warning or error, a question back
(a message with buttons), or a feedback click itself. Installed by :mod:`bot.channels` and
``bot.cli.rasa_server``, like :mod:`bot.payload_guard`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any, Final

from bot.services.feedback import (
    ANSWER_INTENTS,
    FEEDBACK_INTENT,
    HELPFUL,
    NOT_HELPFUL,
    OFFER_KEY,
    VERDICT_ENTITY,
    RelatedQuestions,
)

logger = logging.getLogger(__name__)

UTTER_ASK: Final = "utter_feedback_ask"
UTTER_ASK_RELATED: Final = "utter_feedback_ask_related"
UTTER_BUTTON: Final = "utter_feedback_button_{}"
UTTER_RELATED: Final = "utter_related_{}"
_APPLIED_MARK: Final = "_posbot_feedback_offer"

#: Responses that answer a question (FAQ answers and case replies), exactly or by prefix.
ANSWER_RESPONSES: Final = frozenset(
    {
        "utter_unsuspend_process",
        "utter_required_documents",
        "utter_review_time",
        "utter_rejected_general",
        "utter_hardware_fault",
        "utter_network_problem",
        "utter_maintenance",
        "utter_prevention",
        "utter_after_reactivation",
        "utter_fraud_warning",
        "utter_pos_types",
        "utter_contact",
        "utter_fees",
        "utter_code_explained",
        "utter_screen_text_explained",
        "utter_case_on_time",
        "utter_case_overdue",
        "utter_case_window",
        "utter_case_window_estimated",
        "utter_case_time_left",
        "utter_case_time_left_latest",
        "utter_terminal_suspended",
        "utter_terminal_not_suspended",
    }
)
ANSWER_PREFIXES: Final = (
    "utter_documents_",
    "utter_case_status_",
    "utter_rejection_next_",
    "utter_code_advice_",
)
#: The intent an answer is about when the message that got it was not a question (the ids
#: of the verification form, a stated reason), by response prefix.
RESPONSE_INTENTS: Final = (
    ("utter_documents_", "ask_required_documents"),
    ("utter_required_documents", "ask_required_documents"),
    ("utter_case_", "check_case_status"),
    ("utter_terminal_", "check_case_status"),
    ("utter_rejection_next_", "report_rejected"),
    ("utter_code_", "report_error_code"),
    ("utter_screen_text_", "report_error_code"),
    ("utter_review_time", "ask_review_time"),
)
#: A turn with one of these is no answer to rate (warnings, errors, handoff).
NO_OFFER_RESPONSES: Final = frozenset(
    {
        "utter_handoff",
        "utter_store_unavailable",
        "utter_service_unavailable",
        "utter_code_lookup_unavailable",
        "utter_secret_warning",
        "utter_secret_masked",
        "utter_no_password",
        "utter_default",
    }
)
#: The user's latest intent never gets an offer after these.
NO_OFFER_INTENTS: Final = frozenset(
    {
        "greet",
        "goodbye",
        "thank",
        "affirm",
        "deny",
        "bot_challenge",
        "request_human",
        "share_secret",
        "insult",
        "out_of_scope",
        "nlu_fallback",
        "other_language",
        FEEDBACK_INTENT,
        "rate_service",
    }
)

#: The process-wide related questions, created on first use (tests replace it).
RELATED: RelatedQuestions | None = None


def related_questions() -> RelatedQuestions:
    """The process-wide :class:`RelatedQuestions` (the tracker store of ``POSBOT_TRACKER_URL``)."""
    global RELATED
    if RELATED is None:
        RELATED = RelatedQuestions()
    return RELATED


def is_answer(response: str | None) -> bool:
    """Whether ``response`` answers a question (see :data:`ANSWER_RESPONSES`)."""
    return bool(response) and (
        response in ANSWER_RESPONSES or str(response).startswith(ANSWER_PREFIXES)
    )


def feedback_payload(verdict: str) -> str:
    """The payload of a verdict button: ``/answer_feedback{"verdict":"helpful"}``."""
    return f"/{FEEDBACK_INTENT}{json.dumps({VERDICT_ENTITY: verdict})}"


def _turn_events(events: Sequence[Any]) -> list[Any]:
    """The events after the latest user message (all when there is none)."""
    from rasa.shared.core.events import UserUttered

    turn: list[Any] = []
    for event in reversed(events):
        if isinstance(event, UserUttered):
            break
        turn.append(event)
    turn.reverse()
    return turn


def answer_of_turn(tracker: Any) -> tuple[str, str] | None:
    """``(intent, response)`` of the answer the latest turn gave, or None when the turn should
    get no offer."""
    from rasa.shared.core.events import BotUttered

    if tracker.is_paused() or tracker.active_loop_name:
        return None
    latest = (tracker.latest_message.intent or {}).get("name") if tracker.latest_message else None
    if latest in NO_OFFER_INTENTS:
        return None
    said = [e for e in _turn_events(tracker.events) if isinstance(e, BotUttered)]
    if not said:
        return None
    for event in said:
        metadata = event.metadata or {}
        if OFFER_KEY in metadata or metadata.get("utter_action") in NO_OFFER_RESPONSES:
            return None
    last = said[-1]
    response = (last.metadata or {}).get("utter_action")
    if not is_answer(response) or (last.data or {}).get("buttons"):
        return None
    if latest in ANSWER_INTENTS:
        return str(latest), str(response)
    for prefix, intent in RESPONSE_INTENTS:
        if str(response).startswith(prefix):
            return intent, str(response)
    return None


async def _text(nlg: Any, name: str, tracker: Any, channel: str) -> str | None:
    generated = await nlg.generate(name, tracker, channel)
    text = (generated or {}).get("text")
    return str(text) if text else None


async def build_offer(
    tracker: Any, nlg: Any, channel: str, related: RelatedQuestions
) -> dict[str, Any] | None:
    """The offer message for the latest turn (text, buttons, metadata), or None."""
    answer = answer_of_turn(tracker)
    if answer is None:
        return None
    intent, response = answer
    buttons = []
    for verdict in (HELPFUL, NOT_HELPFUL):
        title = await _text(nlg, UTTER_BUTTON.format(verdict), tracker, channel)
        buttons.append({"title": title or verdict, "payload": feedback_payload(verdict)})
    suggested = 0
    for next_intent in await related.related(intent):
        title = await _text(nlg, UTTER_RELATED.format(next_intent), tracker, channel)
        if title:
            buttons.append({"title": title, "payload": f"/{next_intent}"})
            suggested += 1
    text = await _text(nlg, UTTER_ASK_RELATED if suggested else UTTER_ASK, tracker, channel)
    if not text:
        return None
    return {
        "text": text,
        "buttons": buttons,
        "utter_action": UTTER_ASK_RELATED if suggested else UTTER_ASK,
        OFFER_KEY: {"intent": intent, "response": response},
    }


async def offer_feedback(processor: Any, output_channel: Any, tracker: Any) -> bool:
    """Adds the offer to the tracker and sends it, when the turn was an answer.

    Returns:
        Whether an offer was made.
    """
    from rasa.core.actions.action import create_bot_utterance

    message = await build_offer(tracker, processor.nlg, output_channel.name(), related_questions())
    if message is None:
        return False
    event = create_bot_utterance(message)
    tracker.update(event)
    await output_channel.send_response(tracker.sender_id, event.message())
    return True


def install() -> None:
    """Wraps ``MessageProcessor._run_action`` (idempotent): before the turn's closing
    ``action_listen`` runs, the offer is made, so the tracker reads answer, offer, listen."""
    from rasa.core.processor import MessageProcessor
    from rasa.shared.core.constants import ACTION_LISTEN_NAME

    original = MessageProcessor._run_action
    if getattr(original, _APPLIED_MARK, False):
        return

    async def _run_action(
        self: Any, action: Any, tracker: Any, output_channel: Any, nlg: Any, prediction: Any
    ) -> bool:
        if action.name() == ACTION_LISTEN_NAME:
            try:
                await offer_feedback(self, output_channel, tracker)
            except Exception:  # the answer is out; a failed offer must not undo it
                logger.exception("The feedback offer failed; the answer stands without it")
        return await original(self, action, tracker, output_channel, nlg, prediction)

    setattr(_run_action, _APPLIED_MARK, True)
    MessageProcessor._run_action = _run_action
