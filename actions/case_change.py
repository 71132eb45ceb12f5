"""Withdrawing a filed application or changing its contact phone (verified merchants only).

The conversation: "我想撤销申请" → (verification) → which open case, if several (buttons) →
"确认撤销…吗？" (是/否) → the case becomes ``withdrawn`` with a case event. For a phone
change: which case → the new number (11-digit mobile) → "改为 138****5678 吗？" → stored on
the case with an event. The full number waits in the application-draft table, never in a slot.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.base import DomainDict, StoreBacked, StoreUnavailable, latest_entity, latest_intent
from actions.case_replies import status_label
from actions.constants import (
    CANCEL_APPLICATION,
    CASE_CHANGE_CASE_ID,
    CASE_CHANGE_PENDING,
    CASE_CHANGE_STEP,
    CASE_ID,
    PHONE_NUMBER,
    UTTER_STORE_UNAVAILABLE,
    VERIFIED,
    VERIFIED_MERCHANT_ID,
    VERIFY_FAILURES,
)
from actions.handoff import hand_off
from bot.domain_values import PHONE_RE, mask_phone, normalize_identifier
from bot.services.case_changes import ChangeOutcome
from bot.services.cases import CaseView
from bot.services.identity import MAX_VERIFY_FAILURES

Events = list[dict[str, Any]]

WITHDRAW: Final = "withdraw"
PHONE: Final = "phone"
STEP_CHOOSE: Final = "choose"
STEP_ASK_PHONE: Final = "ask_phone"
STEP_CONFIRM: Final = "confirm"

_PHONE_WORDS: Final = re.compile(r"电话|手机|号码|联系方式")
_WITHDRAW_WORDS: Final = re.compile(r"撤|取消|不申请|不办|不要了|作废")
_PHONE_IN_TEXT: Final = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


def change_kind(text: str, phone_given: bool = False) -> str:
    """What the merchant wants: a withdrawal, or a new contact phone (a number or its words)."""
    if phone_given or (_PHONE_WORDS.search(text) and not _WITHDRAW_WORDS.search(text)):
        return PHONE
    return WITHDRAW


def newest_cancel_text(tracker: Tracker) -> str:
    """The text of the newest cancel_application message of the last 10 user turns."""
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        if intent == CANCEL_APPLICATION:
            return str(event.get("text") or "")
    return ""


def phone_in_message(tracker: Tracker) -> str | None:
    """A mobile number in the latest message (entity, or 11 digits in the normalised text)."""
    value = normalize_identifier(latest_entity(tracker, PHONE_NUMBER))
    if PHONE_RE.match(value):
        return value
    found = _PHONE_IN_TEXT.search(normalize_identifier(tracker.latest_message.get("text")))
    return found.group() if found else None


def _step(tracker: Tracker) -> tuple[str | None, str]:
    step, _, kind = str(tracker.get_slot(CASE_CHANGE_STEP) or "").partition(":")
    return (step or None), (kind or WITHDRAW)


def _waiting(step: str, kind: str, case_id: str | None = None) -> Events:
    return [
        SlotSet(CASE_CHANGE_PENDING, True),
        SlotSet(CASE_CHANGE_STEP, f"{step}:{kind}"),
        SlotSet(CASE_CHANGE_CASE_ID, case_id),
    ]


def _finished() -> Events:
    return [
        SlotSet(CASE_CHANGE_PENDING, False),
        SlotSet(CASE_CHANGE_STEP, None),
        SlotSet(CASE_CHANGE_CASE_ID, None),
    ]


class ActionChangeApplication(StoreBacked, Action):
    """cancel_application and its answers: withdraw an open case or change its contact phone."""

    def name(self) -> str:
        return "action_change_application"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Events:
        merchant_id = tracker.get_slot(VERIFIED_MERCHANT_ID)
        if not tracker.get_slot(VERIFIED) or not merchant_id:
            if (tracker.get_slot(VERIFY_FAILURES) or 0) >= MAX_VERIFY_FAILURES:
                dispatcher.utter_message(response="utter_verification_locked")
                return [*_finished(), *await hand_off(self, dispatcher, tracker, "身份验证失败3次")]
            dispatcher.utter_message(response="utter_offer_verify")
            return _finished()
        phone = phone_in_message(tracker)
        # The number waits in the draft table; the slot (filled from the message) is cleared so
        # that the conversation never keeps it and a later application asks for its own.
        cleared = [SlotSet(PHONE_NUMBER, None)] if phone or tracker.get_slot(PHONE_NUMBER) else []
        try:
            events = await self._converse(dispatcher, tracker, domain, merchant_id, phone)
        except StoreUnavailable:
            dispatcher.utter_message(response=UTTER_STORE_UNAVAILABLE)
            events = _finished()
        return [*events, *cleared]

    async def _converse(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
        merchant_id: str,
        phone: str | None,
    ) -> Events:
        intent = latest_intent(tracker)
        pending = bool(tracker.get_slot(CASE_CHANGE_PENDING))
        step, kind = _step(tracker)
        if pending and intent in ("deny", "goodbye"):
            dispatcher.utter_message(response="utter_case_change_dropped")
            return _finished()
        if intent == CANCEL_APPLICATION or not pending or step is None:
            text = str(tracker.latest_message.get("text") or "")
            if intent != CANCEL_APPLICATION:
                text = newest_cancel_text(tracker)
            kind = change_kind(text, phone_given=phone is not None)
            wanted = normalize_identifier(latest_entity(tracker, CASE_ID)) or None
            return await self._start(dispatcher, tracker, domain, merchant_id, kind, wanted, phone)
        case_id = tracker.get_slot(CASE_CHANGE_CASE_ID)
        if step == STEP_CHOOSE:
            wanted = normalize_identifier(latest_entity(tracker, CASE_ID)) or None
            return await self._start(dispatcher, tracker, domain, merchant_id, kind, wanted, phone)
        if step == STEP_ASK_PHONE:
            return await self._take_phone(dispatcher, tracker, case_id, phone)
        if intent == "affirm":
            return await self._apply(dispatcher, tracker, domain, merchant_id, kind, case_id)
        return await self._ask_again(dispatcher, tracker, domain, merchant_id, kind, case_id)

    async def _open_cases(self, merchant_id: str) -> list[CaseView]:
        return await self.case_changes.open_cases(merchant_id, self.clock().date())

    async def _start(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
        merchant_id: str,
        kind: str,
        wanted: str | None,
        phone: str | None,
    ) -> Events:
        """Picks the open case (asking which when there are several), then asks on."""
        cases = await self._open_cases(merchant_id)
        if not cases:
            dispatcher.utter_message(response="utter_no_open_case")
            return _finished()
        chosen = next((case for case in cases if case.case_id == wanted), None)
        if chosen is None and len(cases) == 1:
            chosen = cases[0]
        if chosen is None:
            dispatcher.utter_message(
                response="utter_which_open_case", buttons=case_buttons(domain, cases)
            )
            return _waiting(STEP_CHOOSE, kind)
        if kind == WITHDRAW:
            confirm_withdrawal(dispatcher, domain, chosen)
            return _waiting(STEP_CONFIRM, kind, chosen.case_id)
        if phone is None:
            dispatcher.utter_message(response="utter_ask_new_contact_phone", case_id=chosen.case_id)
            return _waiting(STEP_ASK_PHONE, kind, chosen.case_id)
        return await self._take_phone(dispatcher, tracker, chosen.case_id, phone)

    async def _take_phone(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        case_id: str | None,
        phone: str | None,
    ) -> Events:
        """Keeps a valid new number (full, in the draft table) and asks to confirm it."""
        if phone is None:
            dispatcher.utter_message(response="utter_invalid_phone_number")
            return _waiting(STEP_ASK_PHONE, PHONE, case_id)
        await self.applications.save_phone(tracker.sender_id, phone, self.clock())
        dispatcher.utter_message(
            response="utter_confirm_contact_phone", case_id=case_id, phone=mask_phone(phone)
        )
        return _waiting(STEP_CONFIRM, PHONE, case_id)

    async def _ask_again(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
        merchant_id: str,
        kind: str,
        case_id: str | None,
    ) -> Events:
        """Anything but 是/否 while a confirmation waits: the question again."""
        cases = {case.case_id: case for case in await self._open_cases(merchant_id)}
        case = cases.get(case_id or "")
        if case is None:
            dispatcher.utter_message(response="utter_no_open_case")
            return _finished()
        if kind == WITHDRAW:
            confirm_withdrawal(dispatcher, domain, case)
            return _waiting(STEP_CONFIRM, kind, case_id)
        phone = await self.applications.draft_phone(tracker.sender_id)
        return await self._take_phone(dispatcher, tracker, case_id, phone)

    async def _apply(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
        merchant_id: str,
        kind: str,
        case_id: str | None,
    ) -> Events:
        """The merchant said 是: withdraw the case or store the new phone."""
        now = self.clock()
        phone: str | None = None
        if kind == WITHDRAW:
            result = await self.case_changes.withdraw(
                merchant_id=merchant_id, case_id=case_id or "", now=now
            )
        else:
            result, phone = await self.case_changes.change_phone(
                sender_id=tracker.sender_id, merchant_id=merchant_id, case_id=case_id or "", now=now
            )
        if result.outcome is ChangeOutcome.NOT_YOURS:
            dispatcher.utter_message(response="utter_not_your_terminal")
        elif result.case is None:  # the number is gone (retention): ask for it again
            dispatcher.utter_message(response="utter_ask_new_contact_phone", case_id=case_id)
            return _waiting(STEP_ASK_PHONE, PHONE, case_id)
        elif result.outcome is ChangeOutcome.NOT_OPEN:
            dispatcher.utter_message(
                response="utter_case_not_open",
                case_id=result.case.case_id,
                status_label=status_label(domain, result.case.status),
            )
        elif kind == WITHDRAW:
            dispatcher.utter_message(response="utter_application_withdrawn", case_id=case_id)
        else:
            dispatcher.utter_message(
                response="utter_contact_phone_changed", case_id=case_id, phone=mask_phone(phone)
            )
        return [*_finished(), SlotSet(CASE_ID, case_id)]


def confirm_withdrawal(
    dispatcher: CollectingDispatcher, domain: DomainDict, case: CaseView
) -> None:
    """Asks 是/否 before withdrawing ``case``."""
    dispatcher.utter_message(
        response="utter_confirm_withdraw",
        case_id=case.case_id,
        terminal_id=case.terminal_id,
        status_label=status_label(domain, case.status),
    )


def case_buttons(domain: DomainDict, cases: list[CaseView]) -> list[dict]:
    """One button per open case, answering with its id."""
    return [
        {
            "title": f"{case.case_id}（终端 {case.terminal_id}，"
            f"{status_label(domain, case.status)}）",
            "payload": "/inform" + json.dumps({"case_id": case.case_id}),
        }
        for case in cases
    ]
