"""The mark the scope gate leaves on a guess made without any word of the domain.

"怎么操作", "要多长时间" or "在哪里办" name nothing of the domain: alone they are as likely to be
about a passport or a parcel, and the NLU, which sees only the message, asks back. Right after
a question about the merchant's POS the same words are a follow-up; the dialogue side, which
sees the conversation, then takes the classifier's guess kept under this mark. Plain data, no
Rasa import: the action server reads it too.
"""

from __future__ import annotations

from typing import Any, Final

#: Key of the mark in the parse data (``tracker.latest_message``).
LOW_EVIDENCE_KEY: Final = "low_evidence"
#: Why the guess was set aside (the only reason so far).
NO_DOMAIN_WORD: Final = "no_domain_word"


def low_evidence_mark(guess: str, confidence: float) -> dict[str, Any]:
    """The mark for a guess set aside for want of a domain word."""
    return {"reason": NO_DOMAIN_WORD, "intent": guess, "confidence": round(confidence, 4)}


def low_evidence_guess(parse_data: dict[str, Any] | None) -> str | None:
    """The intent the classifier guessed for a marked message, else None."""
    mark = (parse_data or {}).get(LOW_EVIDENCE_KEY)
    if not isinstance(mark, dict):
        return None
    guess = mark.get("intent")
    return guess if isinstance(guess, str) and guess else None


def on_topic_intent(parse_data: dict[str, Any] | None) -> dict[str, Any]:
    """The intent where the context is the POS service anyway (a form, the FAQ page, a call).

    The guess of a marked message, with the classifier's confidence; else the parsed intent.
    """
    parse_data = parse_data or {}
    guess = low_evidence_guess(parse_data)
    if guess is None:
        return dict(parse_data.get("intent") or {})
    return {"name": guess, "confidence": parse_data[LOW_EVIDENCE_KEY].get("confidence")}
