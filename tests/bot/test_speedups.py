"""The Rasa server's speed fixes keep Rasa's behaviour."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.events import ActionExecuted, Event, SlotSet, UserUttered
from rasa.shared.utils.common import all_subclasses

from bot import speedups
from bot.runtime import bot_environment

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "posbot.tar.gz"


@pytest.fixture(scope="module", autouse=True)
def applied():
    speedups.apply()
    speedups.apply()  # idempotent


def test_valid_action_responses_pass():
    action = RemoteAction("action_case_status", None)
    result = {
        "events": [{"event": "slot", "name": "case_id", "value": "JC202611250001"}],
        "responses": [{"response": "utter_no_case", "terminal_id": "60013452"}],
    }
    assert action._validate_action_result(result)
    assert action._validate_action_result({"events": [], "responses": []})


@pytest.mark.parametrize(
    "result",
    [
        {"events": [{"event": "no_such_event"}], "responses": []},
        {"events": {"event": "slot"}, "responses": []},
        {"events": [], "responses": ["text"]},
    ],
)
def test_invalid_action_responses_raise_rasas_error(result):
    with pytest.raises(ValidationError) as raised:
        RemoteAction("action_case_status", None)._validate_action_result(result)
    assert "Failed to validate Action server response from API" in raised.value.message


def test_every_event_type_resolves_to_the_same_class():
    expected = {}
    for cls in all_subclasses(Event):
        expected.setdefault(cls.type_name, cls)
    for type_name, cls in expected.items():
        assert Event.resolve_by_type(type_name) is cls
    assert Event.resolve_by_type("slot") is SlotSet
    assert Event.resolve_by_type("user") is UserUttered
    assert Event.resolve_by_type("action") is ActionExecuted


def test_unknown_event_types_behave_as_before():
    assert Event.resolve_by_type("topic") is None
    assert Event.resolve_by_type("no_such_event", default=SlotSet) is SlotSet
    with pytest.raises(ValueError):
        Event.resolve_by_type("no_such_event")


def test_an_event_class_defined_later_is_found():
    class LateEvent(SlotSet):
        type_name = "posbot_late_event"

    assert Event.resolve_by_type("posbot_late_event") is LateEvent


@pytest.mark.model
def test_models_load_to_the_same_predictions():
    if not MODEL.exists():
        pytest.fail(f"no trained model at {MODEL}: run `make test` (it trains first)")
    script = (
        "import asyncio, json, sys\n"
        "if sys.argv[1] == 'fast':\n"
        "    import bot.speedups; bot.speedups.apply()\n"
        "from rasa.core.agent import Agent\n"
        "agent = Agent.load(sys.argv[2])\n"
        "texts = ['你好', '我的pos机为什么被停用', '商户号898310058121234', '审核要多久']\n"
        "parses = [asyncio.run(agent.parse_message(t)) for t in texts]\n"
        "print(json.dumps([[p['intent'], p['entities']] for p in parses]))\n"
    )
    outputs = [
        subprocess.run(
            [sys.executable, "-c", script, mode, str(MODEL)],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
            env=bot_environment(),
        ).stdout.splitlines()[-1]
        for mode in ("rasa", "fast")
    ]
    assert outputs[0] == outputs[1]
    assert '"greet"' in outputs[0]
