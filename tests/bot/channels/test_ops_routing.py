"""The console is one of the Rasa server's channels in every profile."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from bot.channels.ops import OpsConsoleInput
from bot.prod.config_files import RASA_UPSTREAM_VARIABLE, nginx_config
from bot.prod.settings import ProdSettings
from tests.conftest import ROOT


def test_credentials_register_the_console() -> None:
    channels = yaml.safe_load((ROOT / "credentials.yml").read_text(encoding="utf-8"))
    assert "bot.channels.ops.OpsConsoleInput" in channels
    assert OpsConsoleInput.name() == "ops"


def test_production_nginx_passes_ops_to_the_rasa_servers(tmp_path: Path) -> None:
    config = nginx_config(ProdSettings(state_dir=tmp_path), None)
    public = config.split("  server {\n")[1]
    prefixes = re.findall(r"location (=\s*)?(\S+) \{", public)
    # No location of its own: /ops and /ops/api/... fall to "location /", the Rasa servers.
    assert [p for _, p in prefixes if "/ops".startswith(p) or p.startswith("/ops")] == ["/"]
    block = public.split("    location / {\n")[1].split("    }\n")[0]
    assert f"proxy_pass http://{RASA_UPSTREAM_VARIABLE};" in block  # the Rasa servers (map)
