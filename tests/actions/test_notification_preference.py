"""Opting out of status notifications and back in, verified or not (real SQLite store)."""

from __future__ import annotations

from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.notifications import ActionNotificationPreference
from bot.services.notifications import address_key
from bot.store.database import CaseStore
from bot.store.models import NotificationOptOut
from tests.actions.helpers import make_tracker, said, verified_as

MERCHANT = "898310058121234"
SENDER = "rest:web-0123456789abcdef01234567"


def subjects(store: CaseStore) -> set[str]:
    with store.session() as session:
        return set(session.execute(select(NotificationOptOut.subject)).scalars())


async def run(store, now, intent, slots=None):
    dispatcher = CollectingDispatcher()
    action = ActionNotificationPreference(store, clock=lambda: now)
    tracker = make_tracker(intent, slots=slots, sender_id=SENDER)
    assert await action.run(dispatcher, tracker, {}) == []
    return said(dispatcher)


async def test_a_verified_merchant_opts_out_then_in(seeded_store, now):
    assert await run(seeded_store, now, "opt_out_notifications", verified_as(MERCHANT)) == [
        "utter_notifications_off"
    ]
    assert subjects(seeded_store) == {f"merchant:{MERCHANT}", f"recipient:{address_key(SENDER)}"}
    # Saying it twice is fine.
    await run(seeded_store, now, "opt_out_notifications", verified_as(MERCHANT))
    assert len(subjects(seeded_store)) == 2
    assert await run(seeded_store, now, "opt_in_notifications", verified_as(MERCHANT)) == [
        "utter_notifications_on"
    ]
    assert subjects(seeded_store) == set()


async def test_an_unverified_conversation_opts_out_only_itself(seeded_store, now):
    # A merchant id typed but not verified is not the merchant's choice.
    slots = {"merchant_id": MERCHANT, "verified_merchant_id": MERCHANT, "verified": False}
    assert await run(seeded_store, now, "opt_out_notifications", slots) == [
        "utter_notifications_off"
    ]
    assert subjects(seeded_store) == {f"recipient:{address_key(SENDER)}"}


async def test_a_store_outage_is_said(tmp_path, now):
    broken = CaseStore(f"sqlite:///{tmp_path / 'no-schema.db'}")
    assert await run(broken, now, "opt_out_notifications") == ["utter_store_unavailable"]
    broken.dispose()


def test_no_reply_promises_an_sms(domain):
    for name in ("utter_notifications_off", "utter_notifications_on"):
        assert all("短信" not in variant["text"] for variant in domain["responses"][name])
