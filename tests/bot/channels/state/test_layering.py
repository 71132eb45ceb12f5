"""The channel state package sits below the channels: no import circle, no imports in functions.

The state modules import each other and the copilot service only, so any of them (and the
modules above them) can be imported first without a half-initialised module on the way.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

STATE_DIR = ROOT / "bot" / "channels" / "state"
STATE_MODULES = sorted(
    f"bot.channels.state.{path.stem}" for path in STATE_DIR.glob("*.py") if path.stem != "__init__"
)
# Modules above the state package that must import cleanly whichever is imported first.
ENTRY_MODULES = [
    *STATE_MODULES,
    "bot.channels.delivery",
    "bot.channels.wechat.security",
    "bot.channels.wechat.channel",
    "bot.channels.wechat",
]
# What the state package may import from the project (bot.settings: the Redis URL).
ALLOWED_PREFIXES = ("bot.channels.state.", "bot.services.copilot", "bot.settings")


def _imports(path: Path) -> list[tuple[str, bool]]:
    """Each imported project module of ``path`` and whether it is imported inside a function."""
    found: list[tuple[str, bool]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.ImportFrom) and child.module:
                found.append((child.module, in_function))
            elif isinstance(child, ast.Import):
                found.extend((alias.name, in_function) for alias in child.names)
            visit(child, inner)

    visit(ast.parse(path.read_text(encoding="utf-8")), False)
    return found


@pytest.mark.parametrize("path", sorted(STATE_DIR.glob("*.py")), ids=lambda path: path.stem)
def test_state_modules_import_at_the_top_and_only_below_the_channels(path: Path) -> None:
    imports = _imports(path)
    assert [module for module, in_function in imports if in_function] == []
    project = [module for module, _ in imports if module.split(".")[0] in {"bot", "actions"}]
    assert [module for module in project if not module.startswith(ALLOWED_PREFIXES)] == []


def test_every_module_can_be_imported_first() -> None:
    script = f"""
import importlib, sys
for name in {ENTRY_MODULES!r}:
    for loaded in [m for m in sys.modules if m.startswith(("bot.channels.", "bot.channels"))]:
        if loaded != "bot.channels":
            del sys.modules[loaded]
    importlib.import_module(name)
print("ok")
"""
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("ok")
