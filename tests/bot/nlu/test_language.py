"""The language gate: English gets other_language, Chinese with Latin words stays Chinese."""

from __future__ import annotations

import pytest
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.language import OTHER_LANGUAGE, LanguageGate, is_foreign_text


@pytest.mark.parametrize(
    "text",
    [
        "my pos is suspended, what can i do?",
        "Why was my terminal blocked",
        "help",
        "do you speak english",
        "the terminal shows 03 invalid merchant",
        "my terminal 停用",
        "bonjour, mon terminal ne marche plus",
    ],
)
def test_foreign_messages(text):
    assert is_foreign_text(text)


@pytest.mark.parametrize(
    "text",
    [
        "pos机连不上wifi",
        "my pos 停用了",
        "POS",
        "ok",
        "OK的",
        "hi",
        "hello",
        "thanks",
        "thank you",
        "ask_suspend_reason",
        "/check_case_status",
        "A0",
        "pn-0093",
        "JC202611180023",
        "898310058121234",
        "4G信号不好",
        "PAX A920 显示 A0",
        "sim卡 apn 怎么设置",
        "帮我翻一下 nice to meet you",
        "刷卡显示03",
        "******",
        "",
    ],
)
def test_chinese_or_neutral_messages(text):
    assert not is_foreign_text(text)


def parsed(text: str, intent: str, *others: str) -> Message:
    ranking = [{"name": intent, "confidence": 0.8}] + [
        {"name": other, "confidence": 0.1} for other in others
    ]
    return Message(data={"text": text, "intent": dict(ranking[0]), "intent_ranking": ranking})


def test_english_is_relabelled_with_full_confidence_and_the_ranking_kept():
    message = parsed("my terminal is locked", "out_of_scope", "ask_suspend_reason")
    LanguageGate().process([message])
    assert message.get("intent") == {"name": OTHER_LANGUAGE, "confidence": 1.0}
    assert [item["name"] for item in message.get("intent_ranking")] == [
        OTHER_LANGUAGE,
        "out_of_scope",
        "ask_suspend_reason",
    ]


def test_a_secret_stays_a_secret():
    message = parsed("my password is ******", "share_secret")
    LanguageGate().process([message])
    assert message.get("intent")["name"] == "share_secret"


def test_a_chinese_message_guessed_as_other_language_gets_the_next_intent():
    message = parsed("pos机连不上wifi", OTHER_LANGUAGE, "report_network_problem", "greet")
    LanguageGate().process([message])
    assert message.get("intent") == {"name": "report_network_problem", "confidence": 0.1}
    assert [item["name"] for item in message.get("intent_ranking")] == [
        "report_network_problem",
        "greet",
    ]


def test_a_chinese_message_keeps_its_intent():
    message = parsed("刷卡显示03", "report_error_code", "report_network_problem")
    LanguageGate().process([message])
    assert message.get("intent") == {"name": "report_error_code", "confidence": 0.8}
    assert len(message.get("intent_ranking")) == 2
