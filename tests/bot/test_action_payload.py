"""Custom action calls carry the recent events: the actions see what they saw before."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, Event, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity
from rasa_sdk import Tracker

from actions.case_lookup import pending_case_intent
from actions.fallback import previous_user_intent
from actions.handoff import MAX_SUMMARY_TURNS, conversation_summary
from bot.action_payload import ACTION_HISTORY_USER_TURNS, recent_events, send_recent_events

ROOT = Path(__file__).resolve().parents[2]
LISTEN = "action_listen"


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(ROOT / "domain.yml")


@pytest.fixture(scope="module", autouse=True)
def installed():
    send_recent_events()
    send_recent_events()  # idempotent


def conversation(turns: int) -> list[Event]:
    events: list[Event] = [ActionExecuted("action_session_start"), ActionExecuted(LISTEN)]
    intents = ["greet", "urge_progress", "ask_fees", "thank", "check_case_status"]
    for number in range(turns):
        intent = intents[number % len(intents)]
        events += [
            UserUttered(f"第{number}句 手机13800138000", {"name": intent, "confidence": 0.9}),
            ActionExecuted(f"utter_{intent}"),
            BotUttered(f"答{number}"),
            SlotSet("verified", number > 3),
            ActionExecuted(LISTEN),
        ]
    return events


def tracker_of(turns: int, domain: Domain) -> DialogueStateTracker:
    return DialogueStateTracker.from_events("rest:someone", conversation(turns), domain.slots)


def test_the_recent_events_start_at_a_listen_and_hold_the_last_user_turns():
    events = conversation(50)
    recent = recent_events(events)
    assert isinstance(recent[0], ActionExecuted) and recent[0].action_name == LISTEN
    assert isinstance(recent[1], UserUttered)
    users = [event for event in recent if isinstance(event, UserUttered)]
    assert len(users) == ACTION_HISTORY_USER_TURNS
    assert recent == events[-len(recent) :]


def test_a_short_conversation_is_sent_whole():
    events = conversation(ACTION_HISTORY_USER_TURNS - 1)
    assert recent_events(events) == events


def test_the_payload_is_bounded_and_keeps_the_state(domain):
    short = RemoteAction("action_handoff", None)._action_call_format(tracker_of(12, domain), domain)
    tracker = tracker_of(400, domain)
    payload = RemoteAction("action_handoff", None)._action_call_format(tracker, domain)
    assert len(payload["tracker"]["events"]) == len(short["tracker"]["events"])
    full_state = tracker.current_state(EventVerbosity.ALL)
    assert {key: value for key, value in payload["tracker"].items() if key != "events"} == {
        key: value for key, value in full_state.items() if key != "events"
    }
    assert payload["tracker"]["events"] == full_state["events"][-len(short["tracker"]["events"]) :]
    assert payload["next_action"] == "action_handoff"
    assert payload["sender_id"] == "rest:someone"
    assert "domain" in payload


def test_the_actions_read_the_same_from_the_recent_events(domain):
    tracker = tracker_of(400, domain)
    payload = RemoteAction("action_handoff", None)._action_call_format(tracker, domain)
    recent = Tracker.from_dict(payload["tracker"])
    full = Tracker.from_dict(tracker.current_state(EventVerbosity.ALL))
    assert MAX_SUMMARY_TURNS <= ACTION_HISTORY_USER_TURNS
    assert conversation_summary(recent, "用户要求") == conversation_summary(full, "用户要求")
    assert previous_user_intent(recent) == previous_user_intent(full)
    assert pending_case_intent(recent) == pending_case_intent(full)
    assert recent.slots == full.slots
    assert recent.latest_message == full.latest_message


def test_json_bodies_read_back_as_rasas_would(domain):
    import numpy as np

    from bot.action_payload import dumps

    body = {
        "text": '商户号898310058121234 \u2028 "quoted"',
        "confidence": np.float32(0.5),
        "count": np.int64(3),
        "tags": {"a"},
        1: "integer key",
        "huge": 2**70,
        "domain": domain.as_dict(),
    }
    expected = json.loads(json.dumps({**body, "confidence": 0.5, "count": 3, "tags": ["a"]}))
    assert json.loads(dumps(body)) == expected
    with pytest.raises(TypeError):
        dumps({"object": object()})


async def test_endpoint_requests_carry_the_fast_json():
    from rasa.utils.endpoints import EndpointConfig

    from bot.action_payload import fast_json_requests
    from tests.webhook_recorder import EMPTY_RESULT, webhook_recorder

    original = EndpointConfig.session, EndpointConfig.request
    try:
        fast_json_requests()
        fast_json_requests()  # idempotent
        async with webhook_recorder() as (url, received):
            endpoint = EndpointConfig(url, headers={"X-Test": "1"})
            answer = await endpoint.request(json={"text": "你好", "n": 1}, method="post")
    finally:
        EndpointConfig.session, EndpointConfig.request = original
    assert answer == EMPTY_RESULT
    assert received == ['{"text":"你好","n":1}'.encode()]
