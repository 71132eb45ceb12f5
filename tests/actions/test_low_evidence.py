"""Messages set aside for naming nothing of the domain: a follow-up in context, else asked back."""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.fallback import ActionClarify
from actions.verification import ValidateVerifyForm
from bot.nlu.evidence import LOW_EVIDENCE_KEY, low_evidence_mark
from tests.actions.helpers import make_tracker, said, user_event
from tests.conftest import NOW

RANKING = [
    {"name": "nlu_fallback", "confidence": 0.6},
    {"name": "ask_review_time", "confidence": 0.52},
    {"name": "out_of_scope", "confidence": 0.42},
]


def set_aside(events: list[dict] | None = None, **kwargs) -> Tracker:
    """The message 要多长时间 as the gate leaves it: nlu_fallback, ask_review_time the guess."""
    tracker = make_tracker(
        "nlu_fallback", text="要多长时间", ranking=RANKING, events=events, **kwargs
    )
    tracker.latest_message[LOW_EVIDENCE_KEY] = low_evidence_mark("ask_review_time", 0.52)
    return tracker


async def run(action, tracker, domain):
    dispatcher = CollectingDispatcher()
    return dispatcher, await action.run(dispatcher, tracker, domain)


async def test_after_a_pos_question_the_guess_is_taken(domain):
    tracker = set_aside([user_event("inform", "我是欠款被停的")])
    dispatcher, events = await run(ActionClarify(), tracker, domain)
    assert said(dispatcher) == []
    rewind, listen, user = events
    assert rewind["event"] == "rewind"
    assert (listen["event"], listen["name"]) == ("action", "action_listen")
    assert (user["event"], user["text"], user["timestamp"]) == ("user", "要多长时间", None)
    parse = user["parse_data"]
    assert parse["intent"] == {"name": "ask_review_time", "confidence": 0.52}
    assert [item["name"] for item in parse["intent_ranking"]] == ["ask_review_time", "out_of_scope"]
    assert parse[LOW_EVIDENCE_KEY]["kept_in_context"] is True


async def test_small_talk_in_between_keeps_the_topic(domain):
    events = [user_event("check_case_status", "查一下进度"), user_event("thank", "谢谢")]
    _, returned = await run(ActionClarify(), set_aside(events), domain)
    assert returned[-1]["parse_data"]["intent"]["name"] == "ask_review_time"


async def test_alone_it_is_asked_back(seeded_store, domain):
    dispatcher, events = await run(ActionClarify(store=seeded_store), set_aside(), domain)
    assert said(dispatcher) == ["utter_clarify_single"]
    assert events == []


async def test_after_an_off_topic_message_it_is_asked_back(seeded_store, domain):
    for previous in ("out_of_scope", "other_language", "insult"):
        events = [user_event("ask_review_time", "审核要多久"), user_event(previous, "…")]
        dispatcher, returned = await run(
            ActionClarify(store=seeded_store), set_aside(events), domain
        )
        assert said(dispatcher) == ["utter_clarify_single"], previous
        assert returned == []


async def test_a_new_session_starts_off_topic(seeded_store, domain):
    events = [user_event("ask_review_time", "审核要多久"), {"event": "session_started"}]
    dispatcher, returned = await run(ActionClarify(store=seeded_store), set_aside(events), domain)
    assert said(dispatcher) == ["utter_clarify_single"]
    assert returned == []


async def test_a_message_taken_back_does_not_count_as_the_topic(seeded_store, domain):
    events = [
        user_event("out_of_scope", "讲个笑话"),
        user_event("ask_review_time", "审核要多久"),
        {"event": "rewind"},
    ]
    dispatcher, returned = await run(ActionClarify(store=seeded_store), set_aside(events), domain)
    assert said(dispatcher) == ["utter_clarify_single"]
    assert returned == []


async def test_an_unmarked_miss_is_asked_back_even_on_topic(seeded_store, domain):
    tracker = make_tracker(
        "nlu_fallback", ranking=RANKING, events=[user_event("inform", "我是欠款被停的")]
    )
    dispatcher, returned = await run(ActionClarify(store=seeded_store), tracker, domain)
    assert said(dispatcher) == ["utter_clarify_single"]
    assert returned == []


async def test_a_form_reads_the_guess(seeded_store, calendar, domain):
    validator = ValidateVerifyForm(store=seeded_store, calendar=calendar, clock=lambda: NOW)
    tracker = set_aside(slots={"requested_slot": "merchant_id"}, active_loop="verify_form")
    dispatcher, events = await run(validator, tracker, domain)
    assert said(dispatcher) == ["utter_review_time"]
    assert {"event": "slot", "timestamp": None, "name": "merchant_id", "value": None} in events
