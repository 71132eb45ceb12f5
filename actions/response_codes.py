"""What a screen message means, and the triage of "it doesn't work"."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Final

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.base import DomainDict, latest_entity
from bot.services.response_codes import (
    CodeKind,
    CodeTable,
    CodeTableError,
    ScreenMessage,
    default_table,
)

logger = logging.getLogger(__name__)

RESPONSE_CODE: Final = "response_code"
TRIAGE_ANSWER: Final = "triage_answer"

UTTER_CODE_EXPLAINED: Final = "utter_code_explained"
UTTER_SCREEN_TEXT_EXPLAINED: Final = "utter_screen_text_explained"
UTTER_CODE_ADVICE: Final = "utter_code_advice_{}"
UTTER_CODE_UNKNOWN: Final = "utter_code_unknown"
UTTER_LOOKUP_UNAVAILABLE: Final = "utter_code_lookup_unavailable"
UTTER_ASK_SCREEN: Final = "utter_ask_screen_message"
UTTER_TRIAGE_QUESTION: Final = "utter_triage_question"
UTTER_HARDWARE_FAULT: Final = "utter_hardware_fault"
UTTER_NETWORK_PROBLEM: Final = "utter_network_problem"

#: Triage buttons (``/report_not_working{"triage_answer": …}``) and the help each one gets.
TRIAGE_ROUTES: Final = {
    "restricted": (UTTER_CODE_ADVICE.format(CodeKind.RESTRICTED.value),),
    "card_side": (UTTER_CODE_ADVICE.format(CodeKind.CARD_SIDE.value),),
    "hardware": (UTTER_HARDWARE_FAULT,),
    "network": (UTTER_NETWORK_PROBLEM,),
    "code_shown": (UTTER_ASK_SCREEN,),
}


class ActionExplainScreenMessage(Action):
    """Explains a response code or screen text, then gives the advice of its kind.

    - a known code: its meaning, then the advice (restricted: the suspension flow's buttons);
    - a known screen text without a code: the same advice;
    - an unknown code: an honest "not in our table" with a human offer;
    - nothing recognisable: asks what the screen says.
    """

    def __init__(self, table: Callable[[], CodeTable] = default_table) -> None:
        self._table = table

    def name(self) -> str:
        return "action_explain_screen_message"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list:
        explain_latest_message(dispatcher, tracker, self._table)
        return []


def explain_latest_message(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    table: Callable[[], CodeTable] = default_table,
) -> None:
    """Answers the latest message about a screen message (see ActionExplainScreenMessage)."""
    codes = list(tracker.get_latest_entity_values(RESPONSE_CODE))
    text = str(tracker.latest_message.get("text") or "")
    try:
        explanation = table().explain(codes, text)
    except CodeTableError as error:
        # `posbot serve` refuses to start with a bad table; this is a file removed or broken
        # before the first look-up. The merchant gets a human, the operator the cause.
        logger.error("response code table unusable: %s", error)
        dispatcher.utter_message(response=UTTER_LOOKUP_UNAVAILABLE)
        return
    if explanation.entry is not None:
        explain(dispatcher, explanation.entry)
    elif explanation.unknown_code is not None:
        dispatcher.utter_message(response=UTTER_CODE_UNKNOWN, code=explanation.unknown_code)
    else:
        dispatcher.utter_message(response=UTTER_ASK_SCREEN)


def explain(dispatcher: CollectingDispatcher, entry: ScreenMessage) -> None:
    """The meaning of ``entry`` and the advice of its kind."""
    if entry.code is not None:
        dispatcher.utter_message(
            response=UTTER_CODE_EXPLAINED, code=entry.code, meaning=entry.meaning
        )
    else:
        dispatcher.utter_message(response=UTTER_SCREEN_TEXT_EXPLAINED, meaning=entry.meaning)
    dispatcher.utter_message(response=UTTER_CODE_ADVICE.format(entry.kind.value))


class ActionTriage(Action):
    """A vague "it doesn't work": one question back, and the answer routes to the right help.

    The question's buttons carry ``/report_not_working{"triage_answer": …}``; a merchant who
    types the answer instead ("显示无效商户", "开不了机") reaches the matching intent directly.
    """

    def name(self) -> str:
        return "action_triage"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list:
        answer = latest_entity(tracker, TRIAGE_ANSWER)
        for response in TRIAGE_ROUTES.get(str(answer), (UTTER_TRIAGE_QUESTION,)):
            dispatcher.utter_message(response=response)
        return []
