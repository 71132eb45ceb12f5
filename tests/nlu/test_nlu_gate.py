"""The held-out NLU gate: intent accuracy on tests/nlu/test_nlu.yml and exact ID entities.

The test file is never used for training (test_training_data.py rejects exact duplicates).
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from bot.domain_values import normalize_identifier
from tests.conftest import ROOT

MODEL = ROOT / "models" / "posbot.tar.gz"
TEST_FILE = ROOT / "tests" / "nlu" / "test_nlu.yml"
MIN_INTENT_ACCURACY = 0.95
ID_ENTITIES = ("merchant_id", "terminal_id", "case_id", "phone_number", "phone_last4")

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def parsed() -> list[tuple[object, dict]]:
    if not MODEL.exists():
        pytest.fail(f"no trained model at {MODEL}: run `make test` (it trains first)")
    from rasa.core.agent import Agent
    from rasa.shared.nlu.training_data.loading import load_data

    agent = Agent.load(str(MODEL))
    examples = load_data(str(TEST_FILE)).intent_examples

    async def parse_all() -> list[dict]:
        return [await agent.parse_message(example.get("text")) for example in examples]

    return list(zip(examples, asyncio.run(parse_all()), strict=True))


def _report(rows: list[tuple[str, str, str]]) -> str:
    wrong = Counter((gold, predicted) for gold, predicted, _ in rows if gold != predicted)
    return "\n".join(f"{gold} -> {pred}: {n}" for (gold, pred), n in wrong.most_common(25))


def test_intent_accuracy_gate(parsed):
    rows = [(ex.get("intent"), result["intent"]["name"], ex.get("text")) for ex, result in parsed]
    correct = sum(gold == predicted for gold, predicted, _ in rows)
    accuracy = correct / len(rows)
    per_intent: dict[str, list[bool]] = defaultdict(list)
    for gold, predicted, _ in rows:
        per_intent[gold].append(gold == predicted)
    print(f"\nheld-out intent accuracy {accuracy:.3f} on {len(rows)} examples")
    for intent, hits in sorted(per_intent.items()):
        print(f"  {intent:26s} {sum(hits)}/{len(hits)}")
    assert accuracy >= MIN_INTENT_ACCURACY, f"accuracy {accuracy:.3f}\n{_report(rows)}"


def test_identifiers_are_extracted_exactly(parsed):
    misses = []
    for example, result in parsed:
        expected = sorted(
            (e["entity"], normalize_identifier(e["value"]))
            for e in example.get("entities") or []
            if e["entity"] in ID_ENTITIES and e["value"].isascii()
        )
        found = sorted(
            (e["entity"], normalize_identifier(e["value"]))
            for e in result.get("entities") or []
            if e["entity"] in ID_ENTITIES
        )
        if example.get("intent") != "share_secret" and expected != found:
            misses.append(f"{example.get('text')}: expected {expected}, got {found}")
    assert not misses, "\n".join(misses)


def test_reason_and_pos_type_values_are_canonical(parsed):
    misses = []
    for example, result in parsed:
        for name in ("suspension_reason", "pos_type"):
            expected = sorted(
                e["value"] for e in example.get("entities") or [] if e["entity"] == name
            )
            found = sorted(e["value"] for e in result.get("entities") or [] if e["entity"] == name)
            if expected and expected != found:
                misses.append(f"{example.get('text')}: {name} expected {expected}, got {found}")
    assert len(misses) <= len(parsed) * 0.02, "\n".join(misses)


def _values(entities: list[dict] | None, name: str) -> list[str]:
    return sorted(e["value"] for e in entities or [] if e["entity"] == name)


def test_model_file_is_the_one_make_builds():
    assert Path(MODEL).name == "posbot.tar.gz"
