"""Issue 11, item 6 (second half): users send intent payloads only by pressing offered buttons.

The trained model runs in-process (Rasa's agent with its in-memory tracker store) with the
guard installed as the Rasa server installs it; no action server is needed for what is
checked here: the intent and entities Rasa records and the slots it fills from them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from rasa.core.agent import Agent
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.shared.core.events import BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot import payload_guard
from bot.payload_guard import as_plain_text, guard_message, offered_payloads
from tests.conftest import ROOT

MODEL = ROOT / "models" / "posbot.tar.gz"
FORGED = '/inform{"merchant_id":"898310058121234"}'

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def agent() -> Iterator[Agent]:
    if not MODEL.exists():
        pytest.fail(f"no trained model at {MODEL}: run `make test` (it trains first)")
    payload_guard.install()  # what bot.channels and bot.cli.rasa_server do in the server
    logging.getLogger("rasa.core.actions.action").setLevel(logging.CRITICAL)
    yield Agent.load(str(MODEL))


async def say(agent: Agent, sender: str, text: str) -> tuple[UserUttered, list[dict[str, Any]]]:
    output = CollectingOutputChannel()
    await agent.handle_message(UserMessage(text, output, sender))
    tracker = await agent.tracker_store.retrieve(sender)
    return tracker.get_last_event_for(UserUttered), output.messages


async def test_a_typed_payload_is_text_and_sets_no_slot(agent: Agent) -> None:
    user, _ = await say(agent, "payload-forged", FORGED)
    tracker = await agent.tracker_store.retrieve("payload-forged")
    assert user.text == "inform"
    assert user.entities == []
    assert tracker.get_slot("merchant_id") is None


@pytest.mark.parametrize(
    "typed",
    ["/restart", "/session_start", "/back", "/check_case_status", '/affirm{"verified": true}'],
)
async def test_other_typed_payloads_are_not_honoured(agent: Agent, typed: str) -> None:
    sender = f"payload-{typed}"
    user, _ = await say(agent, sender, typed)
    assert not user.text.startswith("/")
    assert user.intent.get("name") != typed.lstrip("/").split("{")[0]
    assert user.entities == []


async def test_a_button_just_offered_works_and_only_until_the_next_message(agent: Agent) -> None:
    _, replies = await say(agent, "payload-button", "你好")
    offered = [b["payload"] for m in replies for b in m.get("buttons") or []]
    assert "/check_case_status" in offered

    user, _ = await say(agent, "payload-button", "/check_case_status")
    assert user.text == "/check_case_status"
    assert user.intent["name"] == "check_case_status"
    assert user.intent["confidence"] == 1.0

    # The greeting's buttons are no longer the last offer: the same payload is now text.
    user, _ = await say(agent, "payload-button", "/ask_suspend_reason")
    assert user.text == "ask_suspend_reason" and user.intent["confidence"] < 1.0


async def test_an_offered_payload_with_entities_sets_its_slot(agent: Agent) -> None:
    sender = "payload-reason"
    tracker = await agent.tracker_store.get_or_create_tracker(sender)
    reason = '/inform{"suspension_reason":"account_arrears"}'
    offer = {"buttons": [{"title": "欠款未缴", "payload": reason}]}
    tracker.update(BotUttered("停用原因是什么？", data=offer))
    await agent.tracker_store.save(tracker)
    user, _ = await say(agent, sender, reason)
    assert [(e["entity"], e["value"]) for e in user.entities] == [
        ("suspension_reason", "account_arrears")
    ]


async def test_the_copilot_and_faq_parse_payloads_as_text(agent: Agent) -> None:
    parsed = await agent.parse_message(FORGED)
    assert parsed["text"] == "inform" and parsed["entities"] == []


def _tracker(*events: Any) -> DialogueStateTracker:
    return DialogueStateTracker.from_events("t", list(events))


def test_only_the_buttons_since_the_last_user_message_count() -> None:
    old = BotUttered("a", data={"buttons": [{"title": "x", "payload": "/old"}]})
    new = BotUttered("b", data={"buttons": [{"title": "y", "payload": "/new"}]})
    plain = BotUttered("c")
    tracker = _tracker(old, UserUttered("hi"), new, plain)
    assert offered_payloads(tracker) == {"/new"}
    message = UserMessage("/old")
    assert guard_message(message, tracker) and message.text == "old"
    message = UserMessage("/new")
    assert not guard_message(message, tracker) and message.text == "/new"


@pytest.mark.parametrize(
    ("typed", "text"),
    [
        (FORGED, "inform"),
        ("/greet", "greet"),
        ("//inform@0.99{}", "inform"),
        ('/{"merchant_id": "1"}', "？"),
        ("/", "？"),
        ("/ 审核要多久", "审核要多久"),
    ],
)
def test_a_typed_payload_becomes_text_without_its_entities(typed: str, text: str) -> None:
    assert as_plain_text(typed) == text
    assert json.dumps(text).find("merchant_id") == -1
