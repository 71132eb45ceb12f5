"""Values JSON writers meet in Rasa's data that orjson does not write itself, and JSON files
written whole."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def json_default(value: Any) -> Any:
    """The plain value of numpy scalars, float and int subclasses and sets (orjson's and
    ``json.dumps``'s ``default``).

    Raises:
        TypeError: for anything else, as the writers expect.
    """
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, float):
        return float(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, (set, frozenset)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def write_json(path: Path, payload: Any, indent: int | None = None) -> None:
    """Writes ``payload`` to ``path`` atomically: a reader sees the old file or the new one,
    never half of one, also with several writers at once."""
    descriptor, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            json.dump(payload, file, indent=indent)
        os.replace(partial, path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
