"""Work the Rasa server does on every turn only for debug log lines, done only at debug level.

Rasa 3.6 builds the values of its debug log lines before it calls the logger, which drops them
unless Rasa logs at debug level (``rasa run --debug``): deep copies of the states, events and
parse data on each prediction and action, and the rules' states as text on each prediction
(together about 4 % of the Rasa server's event-loop samples under the bench load). They change
nothing else:

- :func:`copy_for_debug_only` replaces ``copy`` in the modules where every ``copy.deepcopy`` is
  an argument of a ``structlogger.debug`` call (a test reads their source to check it);
- :func:`format_states_for_debug_only` makes ``RulePolicy.format_tracker_states``, whose text
  only feeds such a call, return it only at debug level.

At debug level both do what Rasa does.
"""

from __future__ import annotations

import copy
import importlib
import logging
import types
from typing import Any, Final

#: Rasa's modules whose deep copies only feed debug log lines.
DEBUG_ONLY_COPY_MODULES: Final = (
    "rasa.core.policies.memoization",
    "rasa.core.policies.rule_policy",
    "rasa.core.processor",
    "rasa.core.actions.forms",
)
#: What ``RulePolicy.format_tracker_states`` gives when nobody will read it.
NOT_FORMATTED: Final = ""
_APPLIED_MARK: Final = "_posbot_debug_only"


def apply() -> None:
    """Installs both (idempotent)."""
    copy_for_debug_only()
    format_states_for_debug_only()


def debug_logged() -> bool:
    """Whether Rasa writes its debug log lines."""
    return logging.getLogger("rasa").isEnabledFor(logging.DEBUG)


class DebugOnlyCopies(types.SimpleNamespace):
    """Stands for the ``copy`` module in a module whose deep copies only feed debug logs."""

    def __init__(self) -> None:
        super().__init__(copy=copy.copy)

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        """A deep copy at debug level, otherwise ``value`` itself (nobody reads it)."""
        if debug_logged():
            return copy.deepcopy(value, memo)
        return value


def copy_for_debug_only(modules: tuple[str, ...] = DEBUG_ONLY_COPY_MODULES) -> None:
    """Replaces ``copy`` in each of ``modules`` with :class:`DebugOnlyCopies` (idempotent)."""
    for name in modules:
        module = importlib.import_module(name)
        if not isinstance(getattr(module, "copy", None), DebugOnlyCopies):
            setattr(module, "copy", DebugOnlyCopies())  # noqa: B010  # (mypy: not a module attribute)


def format_states_for_debug_only() -> None:
    """``RulePolicy.format_tracker_states`` formats only at debug level (idempotent)."""
    from rasa.core.policies.rule_policy import RulePolicy

    original = RulePolicy.format_tracker_states
    if getattr(original, _APPLIED_MARK, False):
        return

    def format_tracker_states(states: list[dict[str, Any]]) -> str:
        return original(states) if debug_logged() else NOT_FORMATTED

    setattr(format_tracker_states, _APPLIED_MARK, True)
    RulePolicy.format_tracker_states = staticmethod(format_tracker_states)
