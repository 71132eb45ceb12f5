"""Filing an application to lift a suspension: form, confirmation, submission."""

from __future__ import annotations

import contextlib
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.base import DomainDict, StoreBacked, StoreUnavailable
from actions.case_replies import reason_label, terminal_buttons, utter_open_case
from actions.constants import (
    CANCEL_APPLICATION,
    CONFIRM_PENDING,
    FORM_EXIT_INTENTS,
    OPEN_CASE_ID,
    PHONE_NUMBER,
    SUSPENSION_REASON,
    TERMINAL_ID,
    UTTER_STORE_UNAVAILABLE,
    VERIFIED,
    VERIFIED_MERCHANT_ID,
)
from actions.form_base import (
    Events,
    GuardedFormValidation,
    SlotValues,
    identity_slots,
    is_locked,
    slots_after,
)
from actions.handoff import hand_off
from bot.domain_values import (
    PHONE_RE,
    SUSPENSION_REASONS,
    TERMINAL_ID_RE,
    mask_phone,
    normalize_identifier,
)
from bot.workdays import format_chinese_date

APPLICATION_SLOTS = [TERMINAL_ID, SUSPENSION_REASON, PHONE_NUMBER]


class ValidateApplicationForm(GuardedFormValidation):
    """Validates ``application_form``: identity (unless proven), terminal, reason, phone."""

    format_hints = {
        "merchant_id": "utter_invalid_merchant_id",
        "case_id": "utter_invalid_merchant_id",
        "phone_last4": "utter_invalid_phone_last4",
        TERMINAL_ID: "utter_invalid_terminal_id",
        SUSPENSION_REASON: "utter_ask_suspension_reason",
        PHONE_NUMBER: "utter_invalid_phone_number",
    }
    # "不申请了/取消申请" while filling in: the form stops (rules), nothing is filed.
    exit_intents = FORM_EXIT_INTENTS | {CANCEL_APPLICATION}

    def name(self) -> str:
        return "validate_application_form"

    def slots_required(self, slots: SlotValues) -> list[str]:
        if is_locked(slots):
            return []
        if slots.get(OPEN_CASE_ID):
            return [*identity_slots(slots), TERMINAL_ID]
        return [*identity_slots(slots), *APPLICATION_SLOTS]

    def validate_terminal_id(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> SlotValues:
        """A terminal id is 8 digits (ownership is checked once identity is proven)."""
        terminal_id = normalize_identifier(value)
        if TERMINAL_ID_RE.match(terminal_id):
            return {TERMINAL_ID: terminal_id, OPEN_CASE_ID: None}
        dispatcher.utter_message(response="utter_invalid_terminal_id")
        return {TERMINAL_ID: None}

    def validate_suspension_reason(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> SlotValues:
        """The reason must be one of the canonical values."""
        if value in SUSPENSION_REASONS:
            return {SUSPENSION_REASON: value}
        dispatcher.utter_message(response="utter_ask_suspension_reason")
        return {SUSPENSION_REASON: None}

    async def validate_phone_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> SlotValues:
        """A contact phone is an 11-digit mainland mobile number.

        The full number goes to the application draft in the case store; the slot (and so the
        conversation store) only gets the masked number.
        """
        phone = normalize_identifier(value)
        if not PHONE_RE.match(phone):
            dispatcher.utter_message(response="utter_invalid_phone_number")
            return {PHONE_NUMBER: None}
        now = self.clock()
        try:
            await self.applications.save_phone(tracker.sender_id, phone, now)
        except StoreUnavailable:
            dispatcher.utter_message(response=UTTER_STORE_UNAVAILABLE)
            return {PHONE_NUMBER: None}
        return {PHONE_NUMBER: mask_phone(phone)}

    async def after_validation(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
        events: Events,
    ) -> Events:
        """Proves identity, then checks the terminal: owned, no open case, recorded reason."""
        added = await self.verify_if_ready(dispatcher, tracker, events)
        slots = slots_after(tracker, [*events, *added])
        terminal_id = slots.get(TERMINAL_ID)
        merchant_id = slots.get(VERIFIED_MERCHANT_ID)
        if not (slots.get(VERIFIED) and merchant_id and terminal_id) or slots.get(OPEN_CASE_ID):
            return added
        terminal = await self.applications.check_terminal(
            merchant_id=merchant_id, terminal_id=terminal_id, today=self.clock().date()
        )
        if not terminal.owned:
            dispatcher.utter_message(response="utter_terminal_not_yours", terminal_id=terminal_id)
            added.append(SlotSet(TERMINAL_ID, None))
        elif terminal.open_case is not None:
            added.append(SlotSet(OPEN_CASE_ID, terminal.open_case.case_id))
        elif terminal.recorded_reason and not slots.get(SUSPENSION_REASON):
            added.append(SlotSet(SUSPENSION_REASON, terminal.recorded_reason))
        else:
            return added
        slots = slots_after(tracker, [*events, *added])
        return [*added, *await self.next_slot_events(dispatcher, tracker, slots)]


class ActionAskTerminalId(StoreBacked, Action):
    """Asks for the terminal, offering the verified merchant's terminals as buttons."""

    def name(self) -> str:
        return "action_ask_terminal_id"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Events:
        merchant_id = tracker.get_slot(VERIFIED_MERCHANT_ID)
        buttons: list[dict] = []
        if tracker.get_slot(VERIFIED) and merchant_id:
            try:
                terminals = await self.cases.terminals_of(merchant_id)
                buttons = terminal_buttons(domain, terminals)
            except StoreUnavailable:
                buttons = []
        dispatcher.utter_message(response="utter_ask_terminal_id", buttons=buttons)
        return []


class ActionConfirmApplication(StoreBacked, Action):
    """After the form: shows the summary to confirm, or the open case that already exists."""

    def name(self) -> str:
        return "action_confirm_application"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Events:
        slots = dict(tracker.slots)
        if not slots.get(VERIFIED):
            if is_locked(slots):
                dispatcher.utter_message(response="utter_verification_locked")
                return [
                    SlotSet(CONFIRM_PENDING, False),
                    *await hand_off(self, dispatcher, tracker, reason="身份验证失败3次"),
                ]
            dispatcher.utter_message(response="utter_application_incomplete")
            return [SlotSet(CONFIRM_PENDING, False)]
        open_case_id = slots.get(OPEN_CASE_ID)
        if open_case_id:
            today = self.clock().date()
            try:
                view = await self.cases.open_case_of_terminal(slots[TERMINAL_ID], today)
            except StoreUnavailable:
                dispatcher.utter_message(response=UTTER_STORE_UNAVAILABLE)
                return [SlotSet(OPEN_CASE_ID, None)]
            if view is not None and view.merchant_id == slots.get(VERIFIED_MERCHANT_ID):
                utter_open_case(dispatcher, domain, view)
            elif view is not None:
                # Defence in depth: the forms check ownership first; never show another
                # merchant's case, whatever the slots say.
                dispatcher.utter_message(
                    response="utter_terminal_not_yours", terminal_id=slots[TERMINAL_ID]
                )
            return [SlotSet(OPEN_CASE_ID, None), SlotSet(CONFIRM_PENDING, False)]
        if any(not slots.get(name) for name in APPLICATION_SLOTS):
            dispatcher.utter_message(response="utter_application_incomplete")
            return [SlotSet(CONFIRM_PENDING, False)]
        dispatcher.utter_message(
            response="utter_confirm_application",
            merchant_id=slots[VERIFIED_MERCHANT_ID],
            terminal_id=slots[TERMINAL_ID],
            reason_label=reason_label(domain, slots[SUSPENSION_REASON]),
            phone=mask_phone(slots[PHONE_NUMBER]),
        )
        return [SlotSet(CONFIRM_PENDING, True)]


class ActionSubmitApplication(StoreBacked, Action):
    """Files the confirmed application (or returns the terminal's open case)."""

    def name(self) -> str:
        return "action_submit_application"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Events:
        slots = dict(tracker.slots)
        done = [SlotSet(CONFIRM_PENDING, False)]
        if not slots.get(VERIFIED) or any(not slots.get(name) for name in APPLICATION_SLOTS):
            dispatcher.utter_message(response="utter_application_incomplete")
            return done
        try:
            result = await self.applications.file(
                sender_id=tracker.sender_id,
                merchant_id=slots[VERIFIED_MERCHANT_ID],
                terminal_id=slots[TERMINAL_ID],
                suspension_reason=slots[SUSPENSION_REASON],
                now=self.clock(),
                slot_phone=_full_phone(slots[PHONE_NUMBER]),
            )
        except StoreUnavailable:
            dispatcher.utter_message(response=UTTER_STORE_UNAVAILABLE)
            return done
        except PermissionError:
            dispatcher.utter_message(
                response="utter_terminal_not_yours", terminal_id=slots[TERMINAL_ID]
            )
            return [*done, SlotSet(TERMINAL_ID, None)]
        if result is None:  # the draft is gone (retention) and the slot only has a mask
            dispatcher.utter_message(response="utter_application_incomplete")
            return [*done, SlotSet(PHONE_NUMBER, None)]
        case = result.case
        if not result.created:
            utter_open_case(dispatcher, domain, case)
            return done
        assert case.window is not None  # a submitted case has its decision window
        dispatcher.utter_message(
            response="utter_application_submitted",
            case_id=case.case_id,
            window_start=format_chinese_date(case.window.first_day),
            window_end=format_chinese_date(case.window.last_day),
        )
        dispatcher.utter_message(response=f"utter_documents_{case.suspension_reason}")
        return [*done, SlotSet("case_id", case.case_id)]


class ActionDiscardApplicationDraft(StoreBacked, Action):
    """The merchant declined the summary (or said 不申请了): nothing is filed, the draft goes.

    Not to be confused with withdrawing a filed application (``action_change_application``).
    """

    def name(self) -> str:
        return "action_discard_application_draft"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Events:
        with contextlib.suppress(StoreUnavailable):  # else the retention command deletes it
            await self.applications.discard_draft(tracker.sender_id)
        dispatcher.utter_message(response="utter_application_cancelled")
        return [SlotSet(CONFIRM_PENDING, False), SlotSet(PHONE_NUMBER, None)]


def _full_phone(value: object) -> str | None:
    """The slot value if it is a whole mobile number (not the masked one)."""
    phone = normalize_identifier(value)
    return phone if PHONE_RE.match(phone) else None
