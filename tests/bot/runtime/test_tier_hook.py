"""The per-tier command hook reaches every process of the production profile."""

from __future__ import annotations

import sys
from pathlib import Path

from bot import runtime
from bot.prod.settings import ProdSettings
from bot.prod.supervisor import children


def test_the_supervisor_prefixes_its_children_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(
        runtime.TIER_PREFIXES_ENV, '{"rasa": "ip netns exec ns-rasa", "actions-2": ["nice"]}'
    )
    settings = ProdSettings(base_port=5600, state_dir=tmp_path, model=Path("m.tar.gz"))
    commands = {child.name: child.command for child in children(settings)}
    assert commands["rasa-1"][:5] == ["ip", "netns", "exec", "ns-rasa", sys.executable]
    assert commands["rasa-2"][:4] == ["ip", "netns", "exec", "ns-rasa"]
    assert commands["actions-2"][:2] == ["nice", sys.executable]
    assert commands["actions-1"][0] == sys.executable
    assert commands["nginx"][0] == "nginx"
    assert "--interface" in commands["rasa-1"]


def test_an_explicit_hook_wins_over_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(runtime.TIER_PREFIXES_ENV, '{"nginx": "ip netns exec ns-lb"}')
    settings = ProdSettings(base_port=5600, state_dir=tmp_path, model=Path("m.tar.gz"))
    wrap = runtime.prefix_tiers({"nginx": "taskset -c 1"})
    nginx = next(child for child in children(settings, wrap) if child.name == "nginx")
    assert nginx.command[:4] == ["taskset", "-c", "1", "nginx"]
