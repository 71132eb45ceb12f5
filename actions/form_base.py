"""Form validation shared by the forms: identity proof, interruptions, re-asking with a hint."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction

from actions.base import DomainDict, StoreBacked, StoreUnavailable, intent_in_form
from actions.constants import (
    CASE_ID,
    FAQ_RESPONSES,
    FORM_EXIT_INTENTS,
    FORM_SMALL_TALK_RESPONSES,
    MERCHANT_ID,
    PHONE_LAST4,
    REPORT_ERROR_CODE,
    REQUESTED_SLOT,
    UTTER_STORE_UNAVAILABLE,
    VERIFIED,
    VERIFIED_MERCHANT_ID,
    VERIFY_FAILURES,
)
from actions.response_codes import explain_latest_message
from actions.secret_warning import UTTER_SECRET_WARNING, secret_warning_response
from bot.domain_values import CASE_ID_RE, MERCHANT_ID_RE, PHONE_LAST4_RE, normalize_identifier
from bot.services.identity import MAX_VERIFY_FAILURES, Outcome, canonical_claim

Events = list[dict[str, Any]]
SlotValues = dict[str, Any]


def slots_after(tracker: Tracker, events: Events) -> SlotValues:
    """The slot values once ``events`` are applied."""
    slots = dict(tracker.slots)
    for event in events:
        if event.get("event") == "slot":
            slots[event["name"]] = event["value"]
    return slots


def is_locked(slots: SlotValues) -> bool:
    """Whether identity verification failed too often in this conversation."""
    return (slots.get(VERIFY_FAILURES) or 0) >= MAX_VERIFY_FAILURES


class GuardedFormValidation(StoreBacked, FormValidationAction, ABC):
    """Validates a form that may include the identity proof.

    - A FAQ or small-talk question, or a code on the screen, in the middle of the form is
      answered, then the form asks its question again (the form is not rejected, so no rule is
      needed per question).
    - deny, goodbye and request_human leave the form: nothing is validated, rules take over.
    - An answer that fills nothing gets a hint about the expected format.
    - Once an id and the last four phone digits are known, they are checked against the store.
    """

    #: Response explaining the expected format, by requested slot.
    format_hints: dict[str, str] = {}
    #: Intents that leave this form (rules decide what follows).
    exit_intents: frozenset[str] = FORM_EXIT_INTENTS

    def __init__(self, **dependencies: Any) -> None:
        StoreBacked.__init__(self, **dependencies)
        FormValidationAction.__init__(self)

    @abstractmethod
    def name(self) -> str:
        """``validate_<form name>``."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Events:
        """Validates the latest answer (see class docstring)."""
        intent = intent_in_form(tracker)
        requested = tracker.get_slot(REQUESTED_SLOT)
        requested_value = tracker.get_slot(requested) if requested else None
        if intent in self.exit_intents:
            return []
        answer = FAQ_RESPONSES.get(intent or "") or FORM_SMALL_TALK_RESPONSES.get(intent or "")
        if answer == UTTER_SECRET_WARNING:
            answer = secret_warning_response(tracker.latest_message)
        if answer:
            dispatcher.utter_message(response=answer)
        elif intent == REPORT_ERROR_CODE:
            # A code on the screen ("刷卡显示58") is explained too, then the form asks again.
            explain_latest_message(dispatcher, tracker)
        answered = bool(answer) or intent == REPORT_ERROR_CODE
        events = await super().run(dispatcher, tracker, domain)
        try:
            events += await self.after_validation(dispatcher, tracker, domain, events)
        except StoreUnavailable:
            dispatcher.utter_message(response=UTTER_STORE_UNAVAILABLE)
            events.append(SlotSet(REQUESTED_SLOT, None))
        filled = any(e.get("event") == "slot" and e["name"] != REQUESTED_SLOT for e in events)
        if requested and not filled:
            if not answered and requested in self.format_hints:
                dispatcher.utter_message(response=self.format_hints[requested])
            # Setting the requested slot to its current value keeps the form from being rejected.
            events.append(SlotSet(requested, requested_value))
        return events

    async def after_validation(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
        events: Events,
    ) -> Events:
        """Hook after slot validation; by default proves identity when possible."""
        return await self.verify_if_ready(dispatcher, tracker, events)

    async def verify_if_ready(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, events: Events
    ) -> Events:
        """Checks id + last four digits once both are known; counts failures."""
        slots = slots_after(tracker, events)
        if slots.get(VERIFIED) or is_locked(slots):
            return []
        merchant_id = slots.get(MERCHANT_ID)
        case_id = slots.get(CASE_ID)
        last4 = slots.get(PHONE_LAST4)
        if not last4 or not (merchant_id or case_id):
            return []
        # Rasa validates only the form's required slots when it activates the form, so a case id
        # given with the question ("单号jc… 尾号… 查进度") arrives here as the user typed it.
        canonical_case_id = canonical_claim(None, case_id)[1]
        if canonical_case_id and canonical_case_id != case_id:
            case_id = canonical_case_id
            return [
                SlotSet(CASE_ID, case_id),
                *await self.verify_if_ready(
                    dispatcher, tracker, [*events, SlotSet(CASE_ID, case_id)]
                ),
            ]
        check = await self.identity.check(
            merchant_id=merchant_id,
            case_id=case_id,
            phone_last4=last4,
            sender_id=tracker.sender_id,
            now=self.clock(),
        )
        if check.outcome is Outcome.VERIFIED:
            verified = check.merchant
            assert verified is not None  # a verified check names the merchant
            dispatcher.utter_message(response="utter_verified", merchant_name=verified.masked_name)
            return [
                SlotSet(VERIFIED, True),
                SlotSet(VERIFIED_MERCHANT_ID, verified.merchant_id),
                SlotSet(MERCHANT_ID, verified.merchant_id),
                SlotSet(VERIFY_FAILURES, 0),
                *await self.next_slot_events(dispatcher, tracker, {**slots, VERIFIED: True}),
            ]
        if check.outcome is Outcome.MERCHANT_LOCKED:
            dispatcher.utter_message(response="utter_merchant_locked")
            return [
                SlotSet(PHONE_LAST4, None),
                SlotSet(VERIFY_FAILURES, MAX_VERIFY_FAILURES),
                SlotSet(REQUESTED_SLOT, None),
            ]
        # The count is the client's, from the case store: a reset of the conversation
        # (/restart, /session_start, /back) that clears the slot does not bring back tries.
        slot_failures = int(slots.get(VERIFY_FAILURES) or 0) + 1
        failures = min(max(check.client_failures, slot_failures), MAX_VERIFY_FAILURES)
        result = [SlotSet(PHONE_LAST4, None), SlotSet(VERIFY_FAILURES, failures)]
        if failures >= MAX_VERIFY_FAILURES:
            return [*result, SlotSet(REQUESTED_SLOT, None)]
        dispatcher.utter_message(
            response="utter_verification_mismatch", remaining=MAX_VERIFY_FAILURES - failures
        )
        return [*result, SlotSet(REQUESTED_SLOT, PHONE_LAST4)]

    async def next_slot_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, slots: SlotValues
    ) -> Events:
        """The requested slot once identity is proven (the next missing required slot)."""
        required = self.slots_required(slots)
        missing = next((name for name in required if slots.get(name) is None), None)
        return [SlotSet(REQUESTED_SLOT, missing)]

    @abstractmethod
    def slots_required(self, slots: SlotValues) -> list[str]:
        """The form's required slots for these slot values."""

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        """Required slots depend on what is proven already (see ``slots_required``)."""
        return self.slots_required(dict(tracker.slots))

    async def extract_case_id(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> SlotValues:
        """``case_id`` is filled by its entity mapping; nothing extra to extract."""
        return {}

    # -- identity slot validation -----------------------------------------------------------

    def validate_merchant_id(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> SlotValues:
        """A merchant id is 15 digits."""
        merchant_id = normalize_identifier(value)
        if MERCHANT_ID_RE.match(merchant_id):
            return {MERCHANT_ID: merchant_id}
        dispatcher.utter_message(response="utter_invalid_merchant_id")
        return {MERCHANT_ID: None}

    def validate_case_id(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> SlotValues:
        """A case id is JC + 12 digits."""
        case_id = normalize_identifier(value)
        if CASE_ID_RE.match(case_id):
            return {CASE_ID: case_id}
        dispatcher.utter_message(response="utter_invalid_merchant_id")
        return {CASE_ID: None}

    def validate_phone_last4(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> SlotValues:
        """The last four phone digits are 4 digits."""
        last4 = normalize_identifier(value)
        if PHONE_LAST4_RE.match(last4):
            return {PHONE_LAST4: last4}
        dispatcher.utter_message(response="utter_invalid_phone_last4")
        return {PHONE_LAST4: None}


def identity_slots(slots: SlotValues) -> list[str]:
    """The slots still needed to prove identity."""
    if slots.get(VERIFIED):
        return []
    if slots.get(CASE_ID) and not slots.get(MERCHANT_ID):
        return [CASE_ID, PHONE_LAST4]
    return [MERCHANT_ID, PHONE_LAST4]
