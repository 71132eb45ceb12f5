"""The endpoints file a Rasa server starts with."""

from __future__ import annotations

import stat

import yaml

from bot import runtime

SECRET = "endpoints-test-secret-0123456789"


def test_generated_file_is_private_and_points_at_the_action_server(tmp_path):
    target = runtime.write_endpoints(
        tmp_path / "e.yml", 5601, SECRET, {"nlg": {"type": "bot.nlg.OperatorFactsNLG"}}
    )
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    config = yaml.safe_load(target.read_text(encoding="utf-8"))
    assert config["action_endpoint"]["url"] == "http://127.0.0.1:5601/webhook"
    assert config["action_endpoint"]["headers"]["Authorization"] == f"Bearer {SECRET}"
    assert config["nlg"] == {"type": "bot.nlg.OperatorFactsNLG"}


def test_default_port_uses_the_checked_in_file(tmp_path):
    source = tmp_path / "endpoints.yml"
    source.write_text("action_endpoint: {url: x}\nnlg: {type: n}\n", encoding="utf-8")
    env = {"POSBOT_ACTIONS_SECRET": SECRET}
    assert runtime.endpoints_for(runtime.DEFAULT_ACTIONS_PORT, env, source) == source


def test_other_port_or_sections_get_a_generated_copy(tmp_path):
    source = tmp_path / "endpoints.yml"
    source.write_text("action_endpoint: {url: x}\nnlg: {type: n}\n", encoding="utf-8")
    env = {"POSBOT_ACTIONS_SECRET": SECRET}
    copy = runtime.endpoints_for(5601, env, source, target=tmp_path / "copy.yml")
    config = yaml.safe_load(copy.read_text(encoding="utf-8"))
    assert config["nlg"] == {"type": "n"}
    assert config["action_endpoint"]["url"] == "http://127.0.0.1:5601/webhook"
    bare = runtime.endpoints_for(5055, env, source, sections={}, target=tmp_path / "bare.yml")
    assert set(yaml.safe_load(bare.read_text(encoding="utf-8"))) == {"action_endpoint"}
