"""The scope gate's mark on a guess without a domain word, as the dialogue side reads it."""

from __future__ import annotations

from bot.nlu.evidence import (
    LOW_EVIDENCE_KEY,
    low_evidence_guess,
    low_evidence_mark,
    on_topic_intent,
)

MARKED = {
    "intent": {"name": "nlu_fallback", "confidence": 0.6},
    LOW_EVIDENCE_KEY: low_evidence_mark("ask_review_time", 0.523456),
}


def test_the_mark_keeps_the_guess_and_its_confidence():
    assert MARKED[LOW_EVIDENCE_KEY] == {
        "reason": "no_domain_word",
        "intent": "ask_review_time",
        "confidence": 0.5235,
    }
    assert low_evidence_guess(MARKED) == "ask_review_time"
    assert on_topic_intent(MARKED) == {"name": "ask_review_time", "confidence": 0.5235}


def test_unmarked_or_malformed_parse_data_gives_the_parsed_intent():
    plain = {"intent": {"name": "nlu_fallback", "confidence": 0.3}}
    for parse_data in (plain, {**plain, LOW_EVIDENCE_KEY: "x"}, {**plain, LOW_EVIDENCE_KEY: {}}):
        assert low_evidence_guess(parse_data) is None
        assert on_topic_intent(parse_data) == {"name": "nlu_fallback", "confidence": 0.3}
    assert low_evidence_guess(None) is None and on_topic_intent(None) == {}
