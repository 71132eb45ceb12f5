"""Values JSON writers meet in Rasa's data that orjson does not write itself."""

from __future__ import annotations

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
