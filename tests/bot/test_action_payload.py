"""Custom action calls carry the recent events: the actions see what they saw before."""

from __future__ import annotations

import asyncio
import contextlib
import json
import weakref
from collections.abc import AsyncIterator, Iterator
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


@contextlib.asynccontextmanager
async def peer_recorder(port: int = 0) -> AsyncIterator[tuple[str, list[tuple[str, int]]]]:
    """An action-server stand-in recording the client address of each request."""
    from tests.webhook_recorder import webhook_recorder

    peers: list[tuple[str, int]] = []
    async with webhook_recorder(port, peers) as (url, _):
        yield url, peers


@pytest.fixture
def pooled_requests() -> Iterator[None]:
    from rasa.utils.endpoints import EndpointConfig

    from bot.action_payload import fast_json_requests

    original = EndpointConfig.session, EndpointConfig.request
    fast_json_requests()
    yield
    EndpointConfig.session, EndpointConfig.request = original


async def test_action_calls_share_one_connection(pooled_requests):
    from rasa.utils.endpoints import EndpointConfig

    from bot.action_payload import shared_connector

    async with peer_recorder() as (url, peers):
        endpoint = EndpointConfig(url)
        for number in range(3):
            assert await endpoint.request(json={"n": number}, method="post") is not None
        await asyncio.gather(*(endpoint.request(json={}, method="post") for _ in range(4)))
    assert len(peers) == 7
    assert len(set(peers[:3])) == 1  # one after another: the same connection
    assert len(set(peers)) <= 4  # at once: at most one connection each
    assert shared_connector() is shared_connector()


async def test_a_restarted_action_server_gets_the_next_call_on_a_new_connection(
    pooled_requests,
):
    from rasa.utils.endpoints import EndpointConfig

    async with peer_recorder() as (url, first_peers):
        endpoint = EndpointConfig(url)
        await endpoint.request(json={}, method="post")
        port = int(url.rsplit(":", 1)[1].split("/")[0])
    async with peer_recorder(port) as (_, second_peers):
        await asyncio.sleep(0.05)  # the client sees the old connection closed
        assert await endpoint.request(json={}, method="post") is not None
    assert len(first_peers) == 1 and len(second_peers) == 1


async def test_idle_connections_are_closed_before_the_server_would(pooled_requests, monkeypatch):
    from rasa.utils.endpoints import EndpointConfig

    from bot import action_payload

    monkeypatch.setattr(action_payload, "KEEPALIVE_SECONDS", 0.2)
    monkeypatch.setattr(action_payload, "_connectors", weakref.WeakKeyDictionary())
    async with peer_recorder() as (url, peers):
        endpoint = EndpointConfig(url)
        await endpoint.request(json={}, method="post")
        await asyncio.sleep(0.5)
        await endpoint.request(json={}, method="post")
    assert len(set(peers)) == 2


def test_no_shared_pool_outside_an_event_loop():
    from bot.action_payload import shared_connector

    assert shared_connector() is None
