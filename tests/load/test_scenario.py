"""The reply judge of the load scenario, against the real domain's responses."""

from __future__ import annotations

import pytest

from load.merchants import load_merchant
from load.scenario import CONVERSATION, ReplyJudge, load_responses
from tests.conftest import ROOT

MERCHANT = load_merchant(7)
OTHER = load_merchant(8)


@pytest.fixture(scope="module")
def responses() -> dict:
    return load_responses(ROOT / "domain.yml")


@pytest.fixture(scope="module")
def judge(responses) -> ReplyJudge:
    return ReplyJudge(responses)


def turn(name: str):
    return next(turn for turn in CONVERSATION if turn.name == name)


def reply(responses, name: str, **slots: str) -> dict:
    variation = responses[name][0]
    message = {"recipient_id": "s", "text": variation["text"].format(**slots)}
    if "buttons" in variation:
        message["buttons"] = variation["buttons"]
    return message


def test_the_turns_are_named_in_order_and_fill_in_the_merchant():
    assert [t.name for t in CONVERSATION] == [
        "1 greet", "2 reason", "3 merchant id", "4 phone last4", "5 status", "6 thank",
    ]  # fmt: skip
    assert turn("3 merchant id").text_for(MERCHANT) == "商户号898310090000007"
    assert turn("4 phone last4").text_for(MERCHANT) == "0007"


def test_the_expected_replies_pass_with_extra_messages_between(judge, responses):
    replies = [
        reply(responses, "utter_verified", merchant_name="压***店"),
        {"text": "something else in between"},
        reply(
            responses,
            "utter_terminal_suspended",
            terminal_id=MERCHANT.terminal_id,
            pos_type_label="电签POS",
            suspended_on="2026年11月20日",
            reason_label="营业执照过期",
        ),
        reply(responses, "utter_documents_license_expired"),
    ]
    assert judge.problem(turn("4 phone last4"), MERCHANT, replies) is None


def test_another_merchants_case_is_an_error(judge, responses):
    status = reply(
        responses,
        "utter_case_status_under_review",
        case_id=OTHER.case_id,
        terminal_id=OTHER.terminal_id,
        submitted_on="2026年11月25日",
    )
    problem = judge.problem(turn("5 status"), MERCHANT, [status])
    assert problem is not None and problem.startswith("expected utter_case_status_under_review")
    own = {**status, "text": status["text"].replace(OTHER.case_id, MERCHANT.case_id).replace(
        OTHER.terminal_id, MERCHANT.terminal_id)}  # fmt: skip
    assert judge.problem(turn("5 status"), MERCHANT, [own]) is None


def test_a_reply_of_another_step_or_no_reply_is_an_error(judge, responses):
    assert judge.problem(turn("2 reason"), MERCHANT, []) == (
        "expected utter_suspend_reason_general, got: (no reply)"
    )
    wrong = [reply(responses, "utter_ask_phone_last4")]
    assert judge.problem(turn("6 thank"), MERCHANT, wrong).startswith("expected utter_thank")


def test_order_and_buttons_count(judge, responses):
    general = reply(responses, "utter_suspend_reason_general")
    offer = reply(responses, "utter_offer_verify")
    assert judge.problem(turn("2 reason"), MERCHANT, [general, offer]) is None
    assert judge.problem(turn("2 reason"), MERCHANT, [offer, general]) is not None
    without_buttons = {key: value for key, value in offer.items() if key != "buttons"}
    assert judge.problem(turn("2 reason"), MERCHANT, [general, without_buttons]) is not None


def test_a_domain_without_an_expected_response_is_refused(responses):
    broken = {name: value for name, value in responses.items() if name != "utter_thank"}
    with pytest.raises(ValueError, match="utter_thank"):
        ReplyJudge(broken)
