"""Builders for rasa-sdk trackers and a look at what an action said."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

BASE_SLOTS: dict[str, Any] = {
    "merchant_id": None,
    "terminal_id": None,
    "case_id": None,
    "phone_number": None,
    "phone_last4": None,
    "suspension_reason": None,
    "pos_type": None,
    "verified": False,
    "verified_merchant_id": None,
    "verify_failures": 0,
    "confirm_pending": False,
    "open_case_id": None,
    "requested_slot": None,
}


def user_event(intent: str, text: str = "", entities: list | None = None) -> dict:
    return {
        "event": "user",
        "text": text,
        "parse_data": {
            "intent": {"name": intent, "confidence": 0.9},
            "entities": entities or [],
            "text": text,
        },
    }


def make_tracker(
    intent: str = "check_case_status",
    *,
    slots: dict[str, Any] | None = None,
    entities: list[dict] | None = None,
    text: str = "",
    events: list[dict] | None = None,
    ranking: list[dict] | None = None,
    active_loop: str | None = None,
    sender_id: str = "tester",
) -> Tracker:
    latest = {
        "intent": {"name": intent, "confidence": 0.9},
        "entities": entities or [],
        "text": text,
        "intent_ranking": ranking or [{"name": intent, "confidence": 0.9}],
    }
    history = list(events or [])
    history.append({**user_event(intent, text, entities), "parse_data": latest})
    return Tracker(
        sender_id=sender_id,
        slots={**BASE_SLOTS, **(slots or {})},
        latest_message=latest,
        events=history,
        paused=False,
        followup_action=None,
        active_loop={"name": active_loop} if active_loop else {},
        latest_action_name="action_listen",
    )


def verified_as(merchant_id: str, **slots: Any) -> dict[str, Any]:
    return {
        "verified": True,
        "verified_merchant_id": merchant_id,
        "merchant_id": merchant_id,
        **slots,
    }


def said(dispatcher: CollectingDispatcher) -> list[str]:
    """The response names the action uttered, in order."""
    return [message.get("response") for message in dispatcher.messages]


def message(dispatcher: CollectingDispatcher, response: str) -> dict:
    """The one message that used ``response``."""
    found = [m for m in dispatcher.messages if m.get("response") == response]
    assert len(found) == 1, f"{response} uttered {len(found)} times: {said(dispatcher)}"
    return found[0]


def slot_events(events: list[dict]) -> dict[str, Any]:
    """The slots set by ``events`` (last value wins)."""
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
