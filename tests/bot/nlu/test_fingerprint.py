"""Our NLU components' code and dictionary are part of Rasa's training cache key."""

from __future__ import annotations

from pathlib import Path

from bot.nlu.fingerprint import code_files, code_fingerprint
from bot.nlu.linear_classifier import LinearIntentClassifier
from bot.nlu.normalizer import TextNormalizer
from bot.nlu.scope_gate import ScopeGate


def test_the_code_of_a_component_covers_what_it_imports_of_ours():
    files = code_files("bot.nlu.linear_classifier")
    assert {"bot.nlu.linear_classifier", "bot.nlu.id_placeholders", "bot.nlu.fingerprint"} <= set(
        files
    )
    assert "bot.text" in code_files("bot.nlu.normalizer")
    assert all(path.suffix == ".py" and path.is_file() for path in files.values())
    assert not any(name.startswith("rasa") for name in files)


def test_components_add_their_code_to_the_cache_key():
    assert LinearIntentClassifier.fingerprint_addon({}) == code_fingerprint(
        "bot.nlu.linear_classifier"
    )
    assert TextNormalizer.fingerprint_addon({}) == code_fingerprint("bot.nlu.normalizer")
    assert code_fingerprint("bot.nlu.normalizer") != code_fingerprint("bot.nlu.linear_classifier")


def test_the_scope_gate_adds_its_dictionary_words(tmp_path: Path):
    dictionary = tmp_path / "jieba"
    dictionary.mkdir()
    (dictionary / "pos.txt").write_text("解除停用 10 n\n", encoding="utf-8")
    config = {"dictionary_path": str(dictionary)}
    first = ScopeGate.fingerprint_addon(config)
    assert ScopeGate.fingerprint_addon(config) == first
    (dictionary / "more.txt").write_text("商户号 10 n\n", encoding="utf-8")
    assert ScopeGate.fingerprint_addon(config) != first
    assert first.startswith(code_fingerprint("bot.nlu.scope_gate"))
    assert ScopeGate.fingerprint_addon({"dictionary_path": None}) != first
