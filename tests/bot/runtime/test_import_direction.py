"""The command line imports the runtime, never the reverse; no launcher imports the CLI."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

# Packages that start processes through bot.runtime and must not import bot.cli.
LAUNCHERS = ("bot/runtime", "bot/prod", "bot/quality", "load")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", LAUNCHERS)
def test_launchers_do_not_import_the_command_line(package):
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            m for m in imported_modules(path) if m.startswith("bot.cli")
        )
        for path in (ROOT / package).rglob("*.py")
    }
    assert {path: found for path, found in offenders.items() if found} == {}
