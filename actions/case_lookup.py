"""Answers about the verified merchant's own terminal and case."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from typing import Any, Final

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.base import DomainDict, StoreBacked, StoreUnavailable, latest_entity, latest_intent
from actions.case_change import ActionChangeApplication
from actions.case_replies import (
    pos_label,
    reason_label,
    suspended_on,
    terminal_buttons,
    utter_case_status,
)
from actions.constants import (
    ASK_SUSPEND_REASON,
    CANCEL_APPLICATION,
    CASE_CHANGE_PENDING,
    CASE_ID,
    CHECK_CASE_STATUS,
    FOLLOWUP_INTENTS,
    MERCHANT_ID,
    PHONE_LAST4,
    REPORT_REJECTED,
    SUSPENSION_REASON,
    URGE_PROGRESS,
    UTTER_STORE_UNAVAILABLE,
    VERIFIED,
    VERIFIED_MERCHANT_ID,
    VERIFY_FAILURES,
)
from actions.handoff import hand_off
from bot.domain_values import SUSPENSION_REASONS, normalize_identifier
from bot.services.cases import CaseLookup, LookupOutcome, TerminalView
from bot.services.identity import MAX_VERIFY_FAILURES
from bot.workdays import format_chinese_date

Events = list[dict[str, Any]]


class CaseAnswer(StoreBacked, ABC):
    """Looks up the case the verified merchant asks about and answers one kind of question."""

    async def answer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Events:
        """Checks identity and ownership, resolves the terminal/case, then ``respond``s."""
        verified_merchant = tracker.get_slot(VERIFIED_MERCHANT_ID)
        if not tracker.get_slot(VERIFIED) or not verified_merchant:
            if (tracker.get_slot(VERIFY_FAILURES) or 0) >= MAX_VERIFY_FAILURES:
                dispatcher.utter_message(response="utter_verification_locked")
                return await hand_off(self, dispatcher, tracker, reason="身份验证失败3次")
            else:
                dispatcher.utter_message(response="utter_offer_verify")
            return []
        claimed = normalize_identifier(tracker.get_slot(MERCHANT_ID))
        if claimed and claimed != verified_merchant:
            dispatcher.utter_message(response="utter_switch_merchant", merchant_id=claimed)
            return [
                SlotSet(VERIFIED, False),
                SlotSet(VERIFIED_MERCHANT_ID, None),
                SlotSet(PHONE_LAST4, None),
                SlotSet(CASE_ID, None),
            ]
        try:
            lookup = await self.cases.lookup(
                merchant_id=verified_merchant,
                today=self.clock().date(),
                terminal_id=normalize_identifier(tracker.get_slot("terminal_id")) or None,
                case_id=normalize_identifier(tracker.get_slot(CASE_ID)) or None,
            )
        except StoreUnavailable:
            dispatcher.utter_message(response=UTTER_STORE_UNAVAILABLE)
            return []
        if lookup.outcome is LookupOutcome.NOT_YOURS:
            dispatcher.utter_message(response="utter_not_your_terminal")
            return [SlotSet("terminal_id", None), SlotSet(CASE_ID, None)]
        if lookup.outcome is LookupOutcome.NO_TERMINAL:
            dispatcher.utter_message(response="utter_no_terminal")
            return []
        if lookup.outcome is LookupOutcome.CHOOSE:
            dispatcher.utter_message(
                response="utter_ask_which_terminal",
                buttons=terminal_buttons(domain, lookup.choices),
            )
            return []
        return await self.respond(lookup, dispatcher, tracker, domain)

    @abstractmethod
    async def respond(
        self,
        lookup: CaseLookup,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Events:
        """Answers once the terminal (and its latest case, if any) is known."""


class StatusAnswer(CaseAnswer):
    """Status, decision window, missing documents, rejection or reactivation advice."""

    async def respond(
        self,
        lookup: CaseLookup,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Events:
        if lookup.case is None:
            terminal = lookup.terminal
            assert terminal is not None  # a lookup without a case found the terminal
            if terminal.suspension_reason:
                utter_recorded_reason(dispatcher, domain, terminal, terminal.suspension_reason)
            dispatcher.utter_message(response="utter_no_case", terminal_id=terminal.terminal_id)
            return []
        utter_case_status(dispatcher, lookup.case)
        return [SlotSet(CASE_ID, lookup.case.case_id)]


class RejectionAnswer(StatusAnswer):
    """Why an application was rejected and what to do next (the status answer covers it)."""


class UrgeAnswer(CaseAnswer):
    """Overdue: an escalation ticket; on time: the remaining window."""

    async def respond(
        self,
        lookup: CaseLookup,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Events:
        case = lookup.case
        if latest_intent(tracker) == URGE_PROGRESS:
            dispatcher.utter_message(response="utter_urge_apology")
        if case is None:
            assert lookup.terminal is not None  # a lookup without a case found the terminal
            dispatcher.utter_message(
                response="utter_no_case", terminal_id=lookup.terminal.terminal_id
            )
            return []
        if not case.is_open:
            dispatcher.utter_message(response="utter_urge_closed", case_id=case.case_id)
            utter_case_status(dispatcher, case)
            return [SlotSet(CASE_ID, case.case_id)]
        if not case.overdue:
            # An open case was submitted, so it has its date and decision window.
            assert case.submitted_at is not None and case.window is not None
            dispatcher.utter_message(
                response="utter_not_overdue",
                case_id=case.case_id,
                submitted_on=format_chinese_date(case.submitted_at),
                elapsed=case.elapsed_workdays,
                window_end=format_chinese_date(case.window.last_day),
            )
            return [SlotSet(CASE_ID, case.case_id)]
        try:
            ticket_id, created = await self.cases.escalate(
                case_id=case.case_id, sender_id=tracker.sender_id, now=self.clock()
            )
        except StoreUnavailable:
            dispatcher.utter_message(response=UTTER_STORE_UNAVAILABLE)
            return []
        response = "utter_escalated" if created else "utter_escalation_exists"
        dispatcher.utter_message(response=response, ticket_id=ticket_id)
        return [SlotSet(CASE_ID, case.case_id)]


class ReasonAnswer(CaseAnswer):
    """The suspension reason recorded for the terminal and the documents it needs."""

    async def respond(
        self,
        lookup: CaseLookup,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Events:
        terminal = lookup.terminal
        assert terminal is not None  # every answered lookup found the terminal
        reason = terminal.suspension_reason or (
            lookup.case.suspension_reason if lookup.case else None
        )
        if not reason:
            dispatcher.utter_message(
                response="utter_terminal_not_suspended", terminal_id=terminal.terminal_id
            )
            return []
        utter_recorded_reason(dispatcher, domain, terminal, reason)
        dispatcher.utter_message(response=f"utter_documents_{reason}")
        # Remembered: "那要什么材料" later answers for this reason.
        return [SlotSet(SUSPENSION_REASON, reason)]


def utter_recorded_reason(
    dispatcher: CollectingDispatcher, domain: DomainDict, terminal: TerminalView, reason: str
) -> None:
    """Says when and why the terminal was suspended."""
    dispatcher.utter_message(
        response="utter_terminal_suspended",
        terminal_id=terminal.terminal_id,
        pos_type_label=pos_label(domain, terminal.pos_type),
        suspended_on=suspended_on(terminal),
        reason_label=reason_label(domain, reason),
    )


ANSWERS: dict[str, type[CaseAnswer]] = {
    CHECK_CASE_STATUS: StatusAnswer,
    URGE_PROGRESS: UrgeAnswer,
    REPORT_REJECTED: RejectionAnswer,
    ASK_SUSPEND_REASON: ReasonAnswer,
}


class CaseAction(Action, ABC):
    """A rasa-sdk action that answers with one ``CaseAnswer``."""

    answer_class: type[CaseAnswer] = StatusAnswer

    def __init__(self, **dependencies: Any) -> None:
        self.dependencies = dependencies

    @abstractmethod
    def name(self) -> str:
        """The action name in domain.yml."""

    def answer_for(self, tracker: Tracker) -> CaseAnswer:
        """The answer this action gives."""
        return self.answer_class(**self.dependencies)

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Events:
        """Answers the case question."""
        return await self.answer_for(tracker).answer(dispatcher, tracker, domain)


class ActionCaseStatus(CaseAction):
    """check_case_status for a verified merchant."""

    answer_class = StatusAnswer

    def name(self) -> str:
        return "action_case_status"


class ActionUrgeProgress(CaseAction):
    """urge_progress for a verified merchant."""

    answer_class = UrgeAnswer

    def name(self) -> str:
        return "action_urge_progress"


class ActionRejectionAdvice(CaseAction):
    """report_rejected for a verified merchant."""

    answer_class = RejectionAnswer

    def name(self) -> str:
        return "action_rejection_advice"


class ActionSuspendReason(CaseAction):
    """ask_suspend_reason: the general reasons, or the recorded one once verified."""

    answer_class = ReasonAnswer

    def name(self) -> str:
        return "action_suspend_reason"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Events:
        stated = stated_reason(tracker)
        if stated:
            # The merchant said why ("我是欠款被停的"): no look-up and no verification needed.
            dispatcher.utter_message(
                response="utter_reason_noted", reason_label=reason_label(domain, stated)
            )
            dispatcher.utter_message(response=f"utter_documents_{stated}")
            return [SlotSet(SUSPENSION_REASON, stated)]
        if not tracker.get_slot(VERIFIED):
            dispatcher.utter_message(response="utter_suspend_reason_general")
            dispatcher.utter_message(response="utter_offer_verify")
            return []
        return await super().run(dispatcher, tracker, domain)


class ActionCaseFollowup(CaseAction):
    """After verification or a terminal choice: answers the latest case question asked."""

    def name(self) -> str:
        return "action_case_followup"

    def answer_for(self, tracker: Tracker) -> CaseAnswer:
        return ANSWERS[pending_case_intent(tracker)](**self.dependencies)

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Events:
        """A withdrawal or phone change in progress (or asked before verifying) goes on."""
        if tracker.get_slot(CASE_CHANGE_PENDING) or pending_case_intent(tracker) == (
            CANCEL_APPLICATION
        ):
            change = ActionChangeApplication(**self.dependencies)
            return await change.run(dispatcher, tracker, domain)
        return await super().run(dispatcher, tracker, domain)


def pending_case_intent(tracker: Tracker) -> str:
    """The newest case question or change request of the last 10 user turns, the events the
    action call carries (status when none)."""
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        if intent in FOLLOWUP_INTENTS:
            return intent
    return CHECK_CASE_STATUS


_QUESTION: Final = re.compile(r"为什么|为啥|为何|什么原因|啥原因|是不是|是否|吗|\?|？")


def stated_reason(tracker: Tracker) -> str | None:
    """The suspension reason the merchant states in the latest message (not a question)."""
    reason = latest_entity(tracker, SUSPENSION_REASON)
    if reason not in SUSPENSION_REASONS:
        return None
    text = str(tracker.latest_message.get("text") or "")
    if latest_intent(tracker) != "inform" and _QUESTION.search(text):
        return None
    return reason
