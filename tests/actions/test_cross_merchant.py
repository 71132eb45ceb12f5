"""A verified merchant A never learns anything about merchant B by typing B's identifiers.

Every case path (status, urge, rejection, suspension reason, follow-up), the identity form and
the application form is driven with B's case id, terminal id and merchant id against the demo
store. The answer must be exactly the one an unknown id of the same form gets, nothing about B
may appear in what the bot says or in the events it returns, and nothing is written for B.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import func, select

from actions.application import (
    ActionAskTerminalId,
    ActionConfirmApplication,
    ActionSubmitApplication,
    ValidateApplicationForm,
)
from actions.case_lookup import (
    ActionCaseFollowup,
    ActionCaseStatus,
    ActionRejectionAdvice,
    ActionSuspendReason,
    ActionUrgeProgress,
)
from actions.verification import ValidateVerifyForm
from bot.domain_values import mask_name, mask_phone
from bot.store.database import CaseStore
from bot.store.models import Case, CaseEvent, Merchant, Terminal, Ticket
from tests.actions.helpers import make_tracker, said, slot_events, user_event, verified_as
from tests.conftest import NOW

A = "898310058121234"  # 张记便利店, phone ...5678, terminal 60013452, case under review
A_LAST4 = "5678"
VICTIMS = {
    "898310058125555": "overdue case (urging would open an escalation)",
    "898310058126666": "rejected case with a rejection reason",
    "898310058127777": "case that needs documents",
    "898310058129999": "two terminals",
    "898310058120000": "suspended terminal without an application",
}
UNKNOWN_CASE = "JC209912319999"
UNKNOWN_TERMINAL = "69999999"
UNKNOWN_MERCHANT = "898399999999999"

CASE_ACTIONS = {
    "check_case_status": ActionCaseStatus,
    "urge_progress": ActionUrgeProgress,
    "report_rejected": ActionRejectionAdvice,
    "ask_suspend_reason": ActionSuspendReason,
}


@pytest.fixture
def deps(seeded_store: CaseStore, calendar) -> dict[str, Any]:
    return {"store": seeded_store, "calendar": calendar, "clock": lambda: NOW}


def victim_ids(store: CaseStore, merchant_id: str) -> tuple[list[str], list[str]]:
    """The victim's terminal ids and case ids."""
    with store.session() as session:
        terminals = session.execute(
            select(Terminal.terminal_id).where(Terminal.merchant_id == merchant_id)
        ).scalars()
        cases = session.execute(
            select(Case.case_id).where(Case.merchant_id == merchant_id)
        ).scalars()
        return sorted(terminals), sorted(cases)


def secrets_of(store: CaseStore, merchant_id: str) -> set[str]:
    """Everything about a merchant that another merchant must not see."""
    with store.session() as session:
        merchant = session.get(Merchant, merchant_id)
        values = {
            merchant.name,
            mask_name(merchant.name),
            merchant.registered_phone,
            mask_phone(merchant.registered_phone),
        }
        for case in session.execute(select(Case).where(Case.merchant_id == merchant_id)).scalars():
            values.add(case.case_id)
            values.update(item for item in case.missing_document_list)
            if case.rejection_reason:
                values.add(case.rejection_reason)
        terminals = select(Terminal.terminal_id).where(Terminal.merchant_id == merchant_id)
        values.update(session.execute(terminals).scalars())
    return {value for value in values if value}


def written(store: CaseStore) -> dict[str, int]:
    """Row counts of what an action could write about a case."""
    with store.session() as session:
        return {
            model.__tablename__: session.execute(
                select(func.count()).select_from(model)
            ).scalar_one()
            for model in (Case, CaseEvent, Ticket)
        }


def leaked(secrets: set[str], dispatcher: CollectingDispatcher, events: list, typed: str) -> set:
    """The secrets found in the bot's messages and events (the id the user typed excepted)."""
    shown = json.dumps([dispatcher.messages, events], ensure_ascii=False, default=str)
    return {secret for secret in secrets - {typed} if secret in shown}


def same_answer(first: CollectingDispatcher, second: CollectingDispatcher, ids: tuple) -> bool:
    """Whether two answers are identical once the typed ids are replaced by a placeholder."""

    def text(dispatcher: CollectingDispatcher, typed: str) -> str:
        return json.dumps(dispatcher.messages, ensure_ascii=False).replace(typed, "<id>")

    return text(first, ids[0]) == text(second, ids[1])


async def run(action, tracker, domain) -> tuple[CollectingDispatcher, list]:
    dispatcher = CollectingDispatcher()
    return dispatcher, await action.run(dispatcher, tracker, domain)


def case_tracker(intent: str, followup: bool, **slots: Any):
    if followup:
        return make_tracker("inform", slots=verified_as(A, **slots), events=[user_event(intent)])
    return make_tracker(intent, slots=verified_as(A, **slots))


# --------------------------------------------------------------------------- case answers


@pytest.mark.parametrize("intent", sorted(CASE_ACTIONS))
@pytest.mark.parametrize("followup", [False, True], ids=["direct", "followup"])
async def test_case_answers_refuse_another_merchants_ids(
    deps, domain, seeded_store, intent: str, followup: bool
) -> None:
    action = (ActionCaseFollowup if followup else CASE_ACTIONS[intent])(**deps)
    before = written(seeded_store)
    tried = 0
    for victim in VICTIMS:
        terminals, cases = victim_ids(seeded_store, victim)
        secrets = secrets_of(seeded_store, victim)
        for slot, typed_values, unknown in (
            ("case_id", cases, UNKNOWN_CASE),
            ("terminal_id", terminals, UNKNOWN_TERMINAL),
        ):
            baseline, _ = await run(
                action, case_tracker(intent, followup, **{slot: unknown}), domain
            )
            for typed in typed_values:
                dispatcher, events = await run(
                    action, case_tracker(intent, followup, **{slot: typed}), domain
                )

                assert said(dispatcher) == ["utter_not_your_terminal"], (victim, slot)
                assert dispatcher.messages == baseline.messages
                assert slot_events(events) == {"terminal_id": None, "case_id": None}
                assert leaked(secrets, dispatcher, events, typed) == set()
                tried += 1
    assert tried == 10  # the 6 terminals and 4 cases of the five other demo merchants
    assert written(seeded_store) == before


@pytest.mark.parametrize("intent", sorted(CASE_ACTIONS))
async def test_typing_another_merchant_id_asks_for_new_proof_and_shows_nothing(
    deps, domain, seeded_store, intent: str
) -> None:
    action = CASE_ACTIONS[intent](**deps)
    before = written(seeded_store)
    unknown, _ = await run(
        action,
        make_tracker(intent, slots={**verified_as(A), "merchant_id": UNKNOWN_MERCHANT}),
        domain,
    )
    for victim in VICTIMS:
        slots = {**verified_as(A), "merchant_id": victim}

        dispatcher, events = await run(action, make_tracker(intent, slots=slots), domain)

        assert said(dispatcher) == ["utter_switch_merchant"]
        assert same_answer(dispatcher, unknown, (victim, UNKNOWN_MERCHANT))
        assert slot_events(events) == {
            "verified": False,
            "verified_merchant_id": None,
            "phone_last4": None,
            "case_id": None,
        }
        assert leaked(secrets_of(seeded_store, victim), dispatcher, events, victim) == set()
    assert written(seeded_store) == before


# --------------------------------------------------------------------------- identity form


def verify_tracker(sender: str, **slots: str):
    tracker = make_tracker("inform", slots=dict(slots), active_loop="verify_form", sender_id=sender)
    for name, value in slots.items():
        tracker.events.append({"event": "slot", "name": name, "value": value})
    return tracker


async def test_own_last4_with_another_merchants_ids_never_verifies_them(
    deps, domain, seeded_store
) -> None:
    form = ValidateVerifyForm(**deps)
    unknown, _ = await run(
        form, verify_tracker("baseline", merchant_id=UNKNOWN_MERCHANT, phone_last4=A_LAST4), domain
    )
    claims = []
    for victim in VICTIMS:
        _, cases = victim_ids(seeded_store, victim)
        secrets = secrets_of(seeded_store, victim)
        claims += [(secrets, {"merchant_id": victim})]
        claims += [(secrets, {"case_id": case_id}) for case_id in cases]
    for number, (secrets, claim) in enumerate(claims):
        dispatcher, events = await run(
            form, verify_tracker(f"a-{number}", phone_last4=A_LAST4, **claim), domain
        )

        assert said(dispatcher) == ["utter_verification_mismatch"]
        assert dispatcher.messages == unknown.messages
        assert "verified" not in slot_events(events)
        assert leaked(secrets, dispatcher, events, next(iter(claim.values()))) == set()


async def test_own_merchant_id_with_another_merchants_case_verifies_only_oneself(
    deps, domain, seeded_store
) -> None:
    victim = "898310058126666"
    _, [victim_case] = victim_ids(seeded_store, victim)
    secrets = secrets_of(seeded_store, victim)
    tracker = verify_tracker("mixed", merchant_id=A, case_id=victim_case, phone_last4=A_LAST4)

    dispatcher, events = await run(ValidateVerifyForm(**deps), tracker, domain)

    assert said(dispatcher) == ["utter_verified"]
    assert slot_events(events)["verified_merchant_id"] == A
    assert leaked(secrets, dispatcher, events, victim_case) == set()
    # The victim's case id stays in the slot: the next answer refuses it.
    slots = verified_as(A, case_id=victim_case)
    dispatcher, events = await run(
        ActionCaseFollowup(**deps),
        make_tracker("inform", slots=slots, events=[user_event("check_case_status")]),
        domain,
    )
    assert said(dispatcher) == ["utter_not_your_terminal"]
    assert leaked(secrets, dispatcher, events, victim_case) == set()


# --------------------------------------------------------------------------- application form


def victim_terminals(store: CaseStore) -> list[tuple[str, set[str]]]:
    """Every terminal of the other demo merchants, with its merchant's secrets."""
    found = []
    for victim in VICTIMS:
        terminals, _ = victim_ids(store, victim)
        found += [(terminal_id, secrets_of(store, victim)) for terminal_id in terminals]
    assert len(found) == 6
    return found


def terminal_turn(terminal_id: str):
    tracker = make_tracker(
        "inform",
        slots=verified_as(A, terminal_id=terminal_id, requested_slot="terminal_id"),
        active_loop="application_form",
    )
    tracker.events.append({"event": "slot", "name": "terminal_id", "value": terminal_id})
    return tracker


async def test_application_form_refuses_another_merchants_terminal(
    deps, domain, seeded_store
) -> None:
    before = written(seeded_store)
    unknown, unknown_events = await run(
        ValidateApplicationForm(**deps), terminal_turn(UNKNOWN_TERMINAL), domain
    )
    assert said(unknown) == ["utter_terminal_not_yours"]
    for terminal_id, secrets in victim_terminals(seeded_store):
        dispatcher, events = await run(
            ValidateApplicationForm(**deps), terminal_turn(terminal_id), domain
        )

        assert said(dispatcher) == ["utter_terminal_not_yours"]
        assert same_answer(dispatcher, unknown, (terminal_id, UNKNOWN_TERMINAL))
        assert slot_events(events) == slot_events(unknown_events)
        assert slot_events(events)["terminal_id"] is None
        assert "open_case_id" not in {k for k, v in slot_events(events).items() if v}
        assert leaked(secrets, dispatcher, events, terminal_id) == set()
    assert written(seeded_store) == before


async def test_submitting_for_another_merchants_terminal_files_nothing(
    deps, domain, seeded_store
) -> None:
    before = written(seeded_store)

    def submit_tracker(terminal_id: str):
        slots = verified_as(
            A,
            terminal_id=terminal_id,
            suspension_reason="other",
            phone_number="13812345678",
            confirm_pending=True,
        )
        return make_tracker("affirm", slots=slots)

    unknown, _ = await run(
        ActionSubmitApplication(**deps), submit_tracker(UNKNOWN_TERMINAL), domain
    )
    for terminal_id, secrets in victim_terminals(seeded_store):
        dispatcher, events = await run(
            ActionSubmitApplication(**deps), submit_tracker(terminal_id), domain
        )

        assert said(dispatcher) == ["utter_terminal_not_yours"]
        assert same_answer(dispatcher, unknown, (terminal_id, UNKNOWN_TERMINAL))
        assert leaked(secrets, dispatcher, events, terminal_id) == set()
    assert written(seeded_store) == before


async def test_terminal_buttons_offer_only_ones_own_terminals(deps, domain, seeded_store) -> None:
    dispatcher, _ = await run(
        ActionAskTerminalId(**deps),
        make_tracker("submit_application", slots=verified_as(A)),
        domain,
    )

    [asked] = dispatcher.messages
    assert [button["payload"] for button in asked["buttons"]] == [
        '/inform{"terminal_id": "60013452"}'
    ]
    for victim in VICTIMS:
        assert leaked(secrets_of(seeded_store, victim), dispatcher, [], "") == set()


@pytest.mark.parametrize("victim", ["898310058125555"])
async def test_confirmation_never_shows_another_merchants_open_case(
    deps, domain, seeded_store, victim: str
) -> None:
    """Defence in depth: even with slots pointing at B's terminal, the summary shows nothing."""
    terminals, cases = victim_ids(seeded_store, victim)
    secrets = secrets_of(seeded_store, victim)
    for terminal_id in terminals:
        slots = verified_as(A, terminal_id=terminal_id, open_case_id=(cases or [UNKNOWN_CASE])[0])
        dispatcher, events = await run(
            ActionConfirmApplication(**deps), make_tracker("inform", slots=slots), domain
        )

        assert leaked(secrets, dispatcher, events, terminal_id) == set()
