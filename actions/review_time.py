"""How long the review takes: for the case just discussed, or in general."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.base import DomainDict, StoreBacked, StoreUnavailable
from actions.case_replies import utter_case_status, utter_window
from actions.constants import CASE_ID, VERIFIED, VERIFIED_MERCHANT_ID
from bot.domain_values import normalize_identifier
from bot.services.cases import LookupOutcome
from bot.workdays import format_chinese_date


class ActionReviewTime(StoreBacked, Action):
    """ask_review_time: working days left for the case of the conversation, else 3-7 in general.

    "还要多久" after a status reply means that case: days are counted with the holiday and
    make-up-workday calendar (调休), like the decision window.
    """

    def name(self) -> str:
        return "action_review_time"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list:
        merchant_id = tracker.get_slot(VERIFIED_MERCHANT_ID)
        case_id = normalize_identifier(tracker.get_slot(CASE_ID))
        if not (tracker.get_slot(VERIFIED) and merchant_id and case_id):
            dispatcher.utter_message(response="utter_review_time")
            return []
        today = self.clock().date()
        try:
            lookup = await self.cases.lookup(merchant_id=merchant_id, today=today, case_id=case_id)
        except StoreUnavailable:
            dispatcher.utter_message(response="utter_review_time")
            return []
        case = lookup.case
        if lookup.outcome is not LookupOutcome.FOUND or case is None or case.window is None:
            dispatcher.utter_message(response="utter_review_time")
            return []
        if not case.is_open or case.overdue:
            utter_case_status(dispatcher, case)
            return []
        soonest = self.calendar.workdays_between(today, case.window.first_day)
        latest = self.calendar.workdays_between(today, case.window.last_day)
        values = {
            "case_id": case.case_id,
            "elapsed": case.elapsed_workdays,
            "soonest": soonest,
            "latest": latest,
            "window_start": format_chinese_date(case.window.first_day),
            "window_end": format_chinese_date(case.window.last_day),
        }
        if soonest > 0:
            dispatcher.utter_message(response="utter_case_time_left", **values)
        elif latest > 0:
            dispatcher.utter_message(response="utter_case_time_left_latest", **values)
        else:  # the last day of the window is today
            utter_window(dispatcher, case)
        return []
