"""Reply content rules of issue 10: no false promises, calm tone, 调休, the clarifying question."""

from __future__ import annotations

import re

import yaml

from tests.conftest import ROOT

DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
TEXTS = {
    name: variant["text"]
    for name, variants in DOMAIN["responses"].items()
    for variant in variants
    if variant.get("text")
}
MERCHANT_TEXTS = {
    name: text for name, text in TEXTS.items() if not name.startswith("utter_copilot")
}


def test_nothing_is_promised_that_the_bot_does_not_do():
    # The bot sends no SMS and no notification of its own.
    promise = re.compile(r"短信通知|通过短信|发短信|我们会通知|会通知您|通知到这个号码")
    assert [name for name, text in TEXTS.items() if promise.search(text)] == []


def test_no_joking_emoji():
    assert [name for name, text in TEXTS.items() if "😅" in text] == []


def test_working_days_are_said_to_follow_the_holiday_calendar():
    missing = [
        name
        for name, text in MERCHANT_TEXTS.items()
        if "工作日" in text and re.search(r"3|7|几|还要|已过", text) and "调休" not in text
    ]
    assert missing == []


def test_the_clarifying_question_reads_as_agreed():
    assert TEXTS["utter_clarify"] == "您是想问“{first}”，还是“{second}”？"


def test_abuse_reply_is_calm_and_offers_a_human():
    reply = DOMAIN["responses"]["utter_insult_reply"][0]
    assert "转人工" in reply["text"]
    assert {"title": "转人工", "payload": "/request_human"} in reply["buttons"]
