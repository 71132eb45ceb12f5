"""The public phrasing gate (issue 10): real merchant questions and real look-alikes.

tests/nlu/public/test_public_nlu.yml holds question titles and FAQ headings that merchants posted
on public POS-support pages (each with its source URL) and real questions about other products
that look like ours (out_of_scope). It is never trained on (test_training_data.py rejects copies
and near copies). The trained model must give the in-domain lines their intent and turn the
look-alikes away.
"""

from __future__ import annotations

import asyncio

import pytest

from bot.quality.evaluate import (
    FALLBACK,
    OUT_OF_SCOPE,
    SOCIAL_INTENTS,
    Example,
    Prediction,
    load_examples,
    score_phrasing,
)
from tests.conftest import ROOT

MODEL = ROOT / "models" / "posbot.tar.gz"
PHRASING_FILE = ROOT / "tests" / "nlu" / "public" / "test_public_nlu.yml"
MIN_IN_DOMAIN_ACCURACY = 0.90
MAX_LOOKALIKE_FALSE_ACCEPT = 0.10

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def parsed() -> tuple[list[Example], list[Prediction]]:
    if not MODEL.exists():
        pytest.fail(f"no trained model at {MODEL}: run `make test` (it trains first)")
    from rasa.core.agent import Agent

    agent = Agent.load(str(MODEL))
    examples = load_examples(PHRASING_FILE)

    async def parse_all() -> list[dict]:
        return [await agent.parse_message(example.text) for example in examples]

    predictions = [
        Prediction(p["intent"]["name"], float(p["intent"].get("confidence") or 0.0))
        for p in asyncio.run(parse_all())
    ]
    return examples, predictions


def _misses(examples: list[Example], predictions: list[Prediction]) -> str:
    """One line per miss: a wrong in-domain intent, or a look-alike given a POS intent."""
    lines = []
    for example, prediction in zip(examples, predictions, strict=True):
        predicted = OUT_OF_SCOPE if prediction.intent == FALLBACK else prediction.intent
        harmless = SOCIAL_INTENTS | {OUT_OF_SCOPE}
        if predicted != example.intent and not (
            example.intent == OUT_OF_SCOPE and predicted in harmless
        ):
            lines.append(f"  {example.intent} -> {predicted}: {example.text}")
    return "\n".join(lines)


def test_public_phrasing_gate(parsed):
    examples, predictions = parsed
    score = score_phrasing(examples, predictions)
    report = "\n".join(
        [
            f"public phrasing: in-domain accuracy {score.accuracy:.3f} on {score.in_domain} lines,"
            f" look-alike false-accept {score.lookalike_false_accept:.3f}"
            f" on {score.lookalikes} look-alikes",
            "misses by (expected -> predicted):",
            *(f"  {gold} -> {pred}: {n}" for (gold, pred), n in score.misses.most_common()),
            "lines:",
            _misses(examples, predictions),
        ]
    )
    print("\n" + report)
    assert score.accuracy is not None and score.lookalike_false_accept is not None
    assert score.accuracy >= MIN_IN_DOMAIN_ACCURACY, report
    assert score.lookalike_false_accept <= MAX_LOOKALIKE_FALSE_ACCEPT, report


def test_phrasing_set_is_large_enough_for_the_gate():
    examples = load_examples(PHRASING_FILE)
    in_domain = [e for e in examples if e.intent != "out_of_scope"]
    assert len(in_domain) >= 140
    assert len(examples) - len(in_domain) >= 70
