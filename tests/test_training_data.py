"""Consistency of the training data, the domain, the rules and the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from actions.constants import FAQ_RESPONSES, FORM_SMALL_TALK_RESPONSES
from bot.domain_values import POS_TYPES, SUSPENSION_REASONS
from tests.conftest import ROOT

ANNOTATION = re.compile(r"\[([^\]]+)\](?:\([^)]+\)|\{[^}]+\})")
CATALOGUE = re.compile(r"^\| ([a-z_]+) \| ", re.MULTILINE)


def _nlu_items(path: Path) -> list[dict]:
    return yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu") or []


def _examples(paths: list[Path]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in paths:
        for item in _nlu_items(path):
            if "intent" in item:
                lines = [
                    line[2:] for line in item["examples"].splitlines() if line.startswith("- ")
                ]
                found.setdefault(item["intent"], []).extend(lines)
    return found


def _plain(example: str) -> str:
    return re.sub(r"\s+", "", ANNOTATION.sub(r"\1", example)).lower()


TRAIN = _examples(sorted((ROOT / "data" / "nlu").glob("*.yml")))
TEST = _examples([ROOT / "tests" / "nlu" / "test_nlu.yml"])
PUBLIC_TEST_FILE = ROOT / "tests" / "nlu" / "public" / "test_public_nlu.yml"
# Both held-out sets: our own (written by hand) and the public phrasing set (issue 10).
HELD_OUT = {
    "test_nlu.yml": TEST,
    "public/test_public_nlu.yml": _examples([PUBLIC_TEST_FILE]),
}
DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
SOURCE_URL = re.compile(r"^\s*# https?://\S+$")


@pytest.mark.parametrize("held_out", sorted(HELD_OUT))
def test_held_out_set_shares_no_example_with_training(held_out):
    train = {_plain(e) for examples in TRAIN.values() for e in examples}
    copies = [e for examples in HELD_OUT[held_out].values() for e in examples if _plain(e) in train]
    assert copies == []


def _within_two_edits(a: str, b: str) -> bool:
    """Levenshtein distance of at most 2 (banded, stops as soon as it exceeds 2)."""
    if abs(len(a) - len(b)) > 2:
        return False
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, char_b in enumerate(b, 1):
            current[j] = min(
                previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b)
            )
        if min(current) > 2:
            return False
        previous = current
    return previous[-1] <= 2


@pytest.mark.parametrize("held_out", sorted(HELD_OUT))
def test_held_out_set_has_no_near_copies_of_training_examples(held_out):
    # One or two characters changed ("审核要多久" / "审核多久") is still a copy; very short
    # messages ("你好呀" / "你好") are close to everything and are not compared.
    train = {_plain(e) for examples in TRAIN.values() for e in examples}
    near = [
        (test, example)
        for examples in HELD_OUT[held_out].values()
        for test in map(_plain, examples)
        if len(test) > 6
        for example in train
        if _within_two_edits(test, example)
    ]
    assert near == []


def _items_without_source(path: Path) -> list[str]:
    """Examples of a one-example-per-item NLU file whose item has no `# https://…` comment."""
    missing = []
    chunks = path.read_text(encoding="utf-8").split("\n- intent: ")[1:]
    for chunk in chunks:
        lines = chunk.splitlines()
        examples = [line.strip()[2:] for line in lines if line.startswith("    - ")]
        if len(examples) != 1 or not any(SOURCE_URL.match(line) for line in lines):
            missing.append(f"{lines[0]}: {examples}")
    return missing


@pytest.mark.parametrize(
    "path",
    [PUBLIC_TEST_FILE, ROOT / "data" / "nlu" / "public_phrasing.yml"],
    ids=lambda path: path.name,
)
def test_every_public_phrasing_line_has_its_source_url(path):
    assert _items_without_source(path) == []
    assert len(_examples([path])) > 0


def test_a_public_line_without_source_is_reported(tmp_path):
    nlu = tmp_path / "nlu.yml"
    nlu.write_text(
        'version: "3.1"\nnlu:\n- intent: ask_fees\n  # https://example.org/a?b=1\n'
        "  examples: |\n    - pos机押金能退吗\n- intent: ask_fees\n  examples: |\n"
        "    - pos机年费多少\n",
        encoding="utf-8",
    )
    assert _items_without_source(nlu) == ["ask_fees: ['pos机年费多少']"]


def test_every_catalogue_intent_is_trained_tested_and_declared():
    domain_md = ROOT.parent / "shared" / "domain.md"
    intents = set(DOMAIN["intents"])
    if domain_md.exists():
        section = domain_md.read_text(encoding="utf-8").split("## Intent catalogue")[1]
        section = section.split("## Entities")[0]
        catalogue = set(CATALOGUE.findall(section)) - {"intent"}
        assert catalogue <= intents
    for intent in intents:
        assert len(TRAIN.get(intent, [])) >= 30, intent
        assert len(TEST.get(intent, [])) >= 8, intent


def test_every_lookup_word_maps_to_a_canonical_value():
    items = _nlu_items(ROOT / "data" / "nlu" / "entities.yml")
    synonyms = {}
    for item in items:
        if "synonym" in item:
            for word in item["examples"].split("\n"):
                if word.strip():
                    synonyms[word.strip()[2:].lower()] = item["synonym"]
    canonical = {"suspension_reason": SUSPENSION_REASONS, "pos_type": POS_TYPES}
    for item in items:
        if "lookup" in item:
            words = [w.strip()[2:] for w in item["examples"].split("\n") if w.strip()]
            # The extractor joins the words into one alternation: longer words must come first.
            assert words == sorted(words, key=len, reverse=True), item["lookup"]
            for word in words:
                assert synonyms.get(word.lower()) in canonical[item["lookup"]], word


def test_every_response_used_by_the_code_exists():
    responses = set(DOMAIN["responses"])
    used = set(FAQ_RESPONSES.values()) | set(FORM_SMALL_TALK_RESPONSES.values())
    for path in (ROOT / "actions").glob("*.py"):
        used |= set(re.findall(r'"(utter_[a-z0-9_]+)"', path.read_text(encoding="utf-8")))
    used |= {f"utter_documents_{reason}" for reason in SUSPENSION_REASONS}
    used |= {f"utter_reason_label_{reason}" for reason in SUSPENSION_REASONS}
    used |= {f"utter_pos_label_{kind}" for kind in POS_TYPES}
    assert sorted(used - responses) == []


def test_faq_answers_inside_and_outside_forms_agree():
    by_intent: dict[str, set[str]] = {}
    for path in (ROOT / "data" / "rules").glob("*.yml"):
        for rule in yaml.safe_load(path.read_text(encoding="utf-8"))["rules"]:
            steps = rule["steps"]
            if "intent" in steps[0]:
                by_intent.setdefault(steps[0]["intent"], set()).add(steps[1]["action"])
    for intent, response in FAQ_RESPONSES.items():
        assert intent in by_intent, intent
        replies = {action for action in by_intent[intent] if action.startswith("utter_")}
        assert replies <= {response}, intent


def _regex(name: str) -> re.Pattern[str]:
    for item in _nlu_items(ROOT / "data" / "nlu" / "entities.yml"):
        if item.get("regex") == name:
            return re.compile(item["examples"].strip()[2:])
    raise LookupError(name)


def test_phone_last4_takes_four_digits_alone_but_not_the_ends_of_masked_numbers():
    last4 = _regex("phone_last4")
    assert [m.group() for m in last4.finditer("后四位是5678")] == ["5678"]
    assert [m.group() for m in last4.finditer("5678")] == ["5678"]
    assert not last4.search("卡号6222***********0128 被扣钱了")
    assert not last4.search("手机138****5678")
    assert not last4.search("2025年3月")
    assert not last4.search("终端号60012345")
