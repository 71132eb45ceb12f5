"""Issue 11, item 8: a confirmation repeated after a lost reply returns the case filed.

Action level with a real SQLite store: the same tracker (the first reply never reached Rasa, so
no event of it was applied) is run twice.
"""

from __future__ import annotations

from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.application import ActionSubmitApplication
from bot.store.models import Case
from bot.store.repositories import ApplicationDraftRepository
from tests.actions.helpers import make_tracker, said, slot_events, verified_as
from tests.conftest import NOW

WU, WU_TERMINAL = "898310058120000", "60070001"
SLOTS = verified_as(
    WU,
    terminal_id=WU_TERMINAL,
    suspension_reason="other",
    phone_number="139****5678",
    confirm_pending=True,
)


async def _confirm(action, domain, sender: str = "web-retry"):
    dispatcher = CollectingDispatcher()
    events = await action.run(
        dispatcher, make_tracker("affirm", slots=SLOTS, sender_id=sender), domain
    )
    return dispatcher, events


async def test_a_repeated_confirmation_returns_the_case_that_was_filed(
    seeded_store, calendar, domain
):
    with seeded_store.session() as session:
        ApplicationDraftRepository(session).save_phone("web-retry", "13912345678", NOW)
    action = ActionSubmitApplication(store=seeded_store, calendar=calendar, clock=lambda: NOW)

    first, first_events = await _confirm(action, domain)
    again, again_events = await _confirm(action, domain)  # the first reply was lost

    assert said(first) == said(again) == ["utter_application_submitted", "utter_documents_other"]
    assert first.messages == again.messages
    assert "utter_application_incomplete" not in said(again)
    assert slot_events(again_events) == slot_events(first_events)
    with seeded_store.session() as session:
        cases = session.execute(select(Case).where(Case.terminal_id == WU_TERMINAL)).scalars()
        (case,) = list(cases)
    assert slot_events(again_events)["case_id"] == case.case_id
    assert case.contact_phone == "13912345678"


async def test_another_conversation_is_not_told_it_filed_the_case(seeded_store, calendar, domain):
    with seeded_store.session() as session:
        ApplicationDraftRepository(session).save_phone("web-retry", "13912345678", NOW)
    action = ActionSubmitApplication(store=seeded_store, calendar=calendar, clock=lambda: NOW)
    await _confirm(action, domain)

    other, _ = await _confirm(action, domain, sender="someone-else")

    # No draft of its own: it learns nothing new and files nothing.
    assert said(other) == ["utter_application_incomplete"]


async def test_a_closed_case_is_not_returned_as_the_new_application(seeded_store, calendar, domain):
    with seeded_store.session() as session:
        ApplicationDraftRepository(session).save_phone("web-retry", "13912345678", NOW)
    action = ActionSubmitApplication(store=seeded_store, calendar=calendar, clock=lambda: NOW)
    await _confirm(action, domain)
    with seeded_store.session() as session:
        session.execute(
            select(Case).where(Case.terminal_id == WU_TERMINAL)
        ).scalar_one().status = "withdrawn"

    again, events = await _confirm(action, domain)

    # The phone was forgotten on filing: the merchant is asked for it again.
    assert said(again) == ["utter_application_incomplete"]
    assert slot_events(events)["phone_number"] is None
