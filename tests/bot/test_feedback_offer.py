"""When an answer gets "有帮助 / 没帮助" and related questions, and exactly what they are."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    ConversationPaused,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from bot.feedback_offer import OFFER_KEY, answer_of_turn, build_offer, feedback_payload
from bot.nlg import OperatorFactsNLG
from bot.services.feedback import RelatedQuestions
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(ROOT / "domain.yml"))


def turn(domain: Domain, intent: str, *said: tuple[str, dict | None], before: list | None = None):
    tracker = DialogueStateTracker("s", domain.slots)
    for event in before or []:
        tracker.update(event)
    tracker.update(ActionExecuted("action_listen"))
    tracker.update(UserUttered("问一下", {"name": intent, "confidence": 1.0}))
    for response, data in said:
        tracker.update(BotUttered("文本", data=data or {}, metadata={"utter_action": response}))
    return tracker


def offer(domain: Domain, tracker: DialogueStateTracker, tmp_path: Path) -> dict | None:
    related = RelatedQuestions(f"sqlite:///{tmp_path / 'empty.db'}")
    return asyncio.run(build_offer(tracker, OperatorFactsNLG(domain=domain), "rest", related))


def test_a_faq_answer_gets_verdicts_and_three_related_questions(domain, tmp_path):
    tracker = turn(domain, "ask_review_time", ("utter_review_time", None))
    assert offer(domain, tracker, tmp_path) == {
        "text": "这个回答对您有帮助吗？猜您还想问：",
        "buttons": [
            {"title": "👍 有帮助", "payload": '/answer_feedback{"verdict": "helpful"}'},
            {"title": "👎 没帮助", "payload": '/answer_feedback{"verdict": "not_helpful"}'},
            {"title": "怎么查申请进度？", "payload": "/check_case_status"},
            {"title": "申请被驳回怎么办？", "payload": "/report_rejected"},
            {"title": "恢复后还要做什么？", "payload": "/ask_after_reactivation"},
        ],
        "utter_action": "utter_feedback_ask_related",
        OFFER_KEY: {"intent": "ask_review_time", "response": "utter_review_time"},
    }
    assert feedback_payload("helpful") == '/answer_feedback{"verdict": "helpful"}'


def test_a_case_reply_after_the_identity_form_is_about_the_case_status(domain):
    tracker = turn(
        domain,
        "inform",
        ("utter_case_status_under_review", None),
        ("utter_case_window", None),
        ("utter_case_on_time", None),
    )
    assert answer_of_turn(tracker) == ("check_case_status", "utter_case_on_time")


@pytest.mark.parametrize(
    ("intent", "said"),
    [
        ("greet", [("utter_greet", None)]),
        ("thank", [("utter_thank", None)]),
        ("request_human", [("utter_handoff", None)]),
        ("ask_review_time", [("utter_store_unavailable", None), ("utter_contact", None)]),
        ("share_secret", [("utter_secret_masked", None)]),
        ("ask_review_time", [("utter_secret_warning", None), ("utter_review_time", None)]),
        ("nlu_fallback", [("utter_clarify", None)]),
        # A question back (buttons) is no answer yet.
        (
            "ask_suspend_reason",
            [
                ("utter_suspend_reason_general", None),
                ("utter_offer_verify", {"buttons": [{"title": "好", "payload": "/affirm"}]}),
            ],
        ),
        (
            "report_not_working",
            [("utter_triage_question", {"buttons": [{"title": "x", "payload": "/y"}]})],
        ),
        ("answer_feedback", [("utter_feedback_thanks", None)]),
        ("ask_review_time", []),
        # ids given to the form, the form asks on: not an answer either.
        ("inform", [("utter_ask_phone_last4", None)]),
    ],
)
def test_no_offer_when_the_turn_was_no_answer(domain, intent, said):
    assert answer_of_turn(turn(domain, intent, *said)) is None


def test_no_offer_in_a_form_or_a_paused_conversation(domain):
    in_form = turn(domain, "ask_review_time", ("utter_review_time", None))
    in_form.update(ActiveLoop("application_form"))
    assert answer_of_turn(in_form) is None
    paused = turn(domain, "ask_review_time", ("utter_review_time", None))
    paused.update(ConversationPaused())
    assert answer_of_turn(paused) is None


def test_at_most_one_offer_per_answer(domain):
    tracker = turn(domain, "ask_fees", ("utter_fees", None))
    assert answer_of_turn(tracker) == ("ask_fees", "utter_fees")
    tracker.update(
        BotUttered("这个回答对您有帮助吗？", metadata={OFFER_KEY: {"intent": "ask_fees"}})
    )
    assert answer_of_turn(tracker) is None
