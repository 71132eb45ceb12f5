"""Our NLU components' code in Rasa's training cache key.

Rasa reuses a trained component from its cache (``.rasa/cache``) when the component's class
name, config and training data are unchanged: a change to the component's *code* kept the old
trained component (on 2026-11-30 a reverted change to the intent classifier came back from
the cache). :class:`CodeFingerprinted` adds the source of the component's module and of every
module of ours it imports, directly or not, to the key.
"""

from __future__ import annotations

import ast
import hashlib
from functools import cache
from pathlib import Path
from typing import Any, Final

ROOT: Final = Path(__file__).resolve().parents[2]
OURS: Final = ("bot", "actions")


def module_file(name: str) -> Path | None:
    """The source file of our module ``name`` (None: not one of this project's files)."""
    base = ROOT.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_names(path: Path) -> set[str]:
    """Every module (and ``module.name``) the file imports absolutely, inside functions too."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def hash_text(text: str) -> str:
    """SHA-256 of ``text`` (UTF-8), in hex."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def code_files(module: str) -> dict[str, Path]:
    """The source file of ``module`` and of every module of ours it imports (transitively)."""
    files: dict[str, Path] = {}
    queue = [module]
    while queue:
        name = queue.pop()
        path = module_file(name)
        if name in files or path is None:
            continue
        files[name] = path
        queue += [n for n in imported_names(path) if n.split(".")[0] in OURS]
    return files


@cache
def code_fingerprint(module: str) -> str:
    """SHA-256 over the files of :func:`code_files` (once per process: training reads it)."""
    files = code_files(module)
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + files[name].read_bytes() + b"\0")
    return digest.hexdigest()


class CodeFingerprinted:
    """Mixin for a Rasa graph component: its code is part of its training cache key."""

    @classmethod
    def fingerprint_addon(cls, config: dict[str, Any]) -> str | None:
        """The fingerprint of the component's code (Rasa adds it to the cache key)."""
        return code_fingerprint(cls.__module__)
