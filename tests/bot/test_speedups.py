"""The Rasa server's speed fixes keep Rasa's behaviour."""

from __future__ import annotations

import datetime
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


def _valid_events() -> list[dict]:
    from rasa.shared.core.events import (
        ActiveLoop,
        AllSlotsReset,
        BotUttered,
        FollowupAction,
        ReminderScheduled,
        Restarted,
        SessionStarted,
    )

    parse_data = {
        "text": "商户号898310058121234",
        "intent": {"name": "provide_merchant_id", "confidence": 0.93},
        "intent_ranking": [{"name": "provide_merchant_id", "confidence": 0.93}],
        "entities": [{"entity": "merchant_id", "value": "898310058121234", "start": 3}],
        "response_selector": {"all_retrieval_intents": []},
    }
    events = [
        UserUttered("商户号898310058121234", parse_data=parse_data),
        ActionExecuted("action_case_status", policy="RulePolicy", confidence=1.0),
        SlotSet("case_id", "JC202611250001"),
        SlotSet("verified", None),
        BotUttered("您好", {"buttons": []}),
        SessionStarted(),
        ActiveLoop("verify_form"),
        ActiveLoop(None),
        FollowupAction("action_listen"),
        Restarted(),
        AllSlotsReset(),
        ReminderScheduled("EXTERNAL_remind", datetime.datetime(2026, 12, 1, 9, 0)),
    ]
    return [event.as_dict() for event in events] + [
        {"event": "slot", "name": "note", "value": {"nested": [1, 2.5, None]}},
        {"event": "action", "name": None, "timestamp": None, "metadata": None},
    ]


def _mutants(event: dict) -> list:
    changed: list = [
        {key: value for key, value in event.items() if key != "event"},
        {**event, "event": 5},
        {**event, "event": ["slot"]},  # unhashable: no branch is looked up for it
        {**event, "event": None},
        {**event, "event": "no_such_event"},
        {**event, "timestamp": "today"},
        {**event, "metadata": []},
        [event],
        "slot",
        None,
    ]
    if event["event"] == "slot":
        changed.append({key: value for key, value in event.items() if key != "name"})
    if event["event"] == "user":
        data = event["parse_data"]
        changed += [
            {**event, "parse_data": {**data, "intent": "provide_merchant_id"}},
            {**event, "parse_data": {**data, "entities": [{"entity": "merchant_id"}]}},
            # Both branches of the response selector's own oneOf match: invalid.
            {**event, "parse_data": {**data, "response_selector": {"faq": {}}}},
            {**event, "text": 12},
        ]
    if event["event"] == "action":
        # Booleans are no numbers in JSON Schema (Python's bool is an int).
        changed += [{**event, "confidence": "high"}, {**event, "confidence": True}]
        changed += [{**event, "timestamp": False}, {**event, "timestamp": 1.0}]
    return changed


def _results() -> list:
    valid = _valid_events()
    results: list = [
        {"events": valid, "responses": [{"response": "utter_no_case"}, {"text": "好"}]},
        {"events": [], "responses": []},
        {"responses": [{"text": "好"}]},
        {"events": valid[:2]},
        {},
        {"events": [], "extra": 1},
    ]
    for index, event in enumerate(valid):
        for mutant in _mutants(event):
            events = [*valid[:index], mutant, *valid[index + 1 :]]
            results.append({"events": events, "responses": []})
    results += [
        [],
        "events",
        {"events": {"event": "slot"}},
        {"events": valid, "responses": ["text"]},
        {"events": valid, "responses": {"text": "好"}},
    ]
    return results


def _jsonschema_class(schema):
    from jsonschema.validators import validator_for

    return validator_for(schema)


@pytest.mark.parametrize(
    "validator_class",
    [_jsonschema_class, lambda _schema: speedups.CompiledSchema],
    ids=["jsonschema", "compiled"],
)
def test_events_checked_by_type_agree_with_the_full_schema(validator_class):
    from jsonschema.validators import validator_for

    schema = RemoteAction.action_response_format_spec()
    full = validator_for(schema)(schema)
    by_type = speedups.EventsByType.of(schema, validator_class(schema))
    assert by_type is not None  # Rasa's schema has the shape the shortcut relies on
    assert len(by_type.branches) == 23

    results = _results()
    verdicts = [(by_type.valid(result), full.is_valid(result)) for result in results]

    disagreements = [
        (result, verdict)
        for result, verdict in zip(results, verdicts, strict=True)
        if verdict[0] != verdict[1]
    ]
    assert disagreements == []
    assert sum(1 for fast, _ in verdicts if fast) >= 4
    assert sum(1 for fast, _ in verdicts if not fast) >= 60


def test_an_invalid_event_still_gets_rasas_error():
    import jsonschema

    result = {"events": [{"event": "slot", "value": "x"}], "responses": []}
    with pytest.raises(ValidationError) as rasas:  # what Rasa's own check says
        jsonschema.validate(result, RemoteAction.action_response_format_spec())
    with pytest.raises(ValidationError) as raised:
        RemoteAction("action_case_status", None)._validate_action_result(result)

    assert raised.value.message.startswith(rasas.value.message + ". Failed to validate Action")
    assert list(raised.value.path) == list(rasas.value.path) == ["events", 0]


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"events": {"type": "array"}}},
        {
            "type": "object",
            "properties": {
                "events": {
                    "type": "array",
                    "items": {
                        "required": ["event"],
                        "oneOf": [
                            {"properties": {"event": {"const": "slot"}}},
                            {"properties": {"event": {"const": "slot"}, "name": {}}},
                        ],
                    },
                }
            },
        },
        {
            "type": "object",
            "properties": {
                "events": {
                    "type": "array",
                    "items": {"oneOf": [{"properties": {"event": {"const": "slot"}}}]},
                }
            },
        },
    ],
)
def test_schemas_of_another_shape_are_validated_in_full(schema):
    from jsonschema.validators import validator_for

    assert speedups.EventsByType.of(schema, validator_for(schema)) is None
