"""Python's garbage collector in the Rasa server: the loaded model frozen, fewer collections.

A Rasa server holds about half a million objects once its model is loaded (TensorFlow, spaCy,
the policies' lookup tables). Python's full collection walks all of them: 230-320 ms with the
event loop stopped, about every 10 s under the bench load, so every turn in progress waited
that long (the single process's p99 of 320-360 ms). Once the model is loaded
(:func:`freeze_after_model_load`) the server collects once, freezes what survived
(``gc.freeze``: those objects are never walked again; freed by reference counting as before)
and collects less often (:data:`THRESHOLDS`): per turn, a few thousand short-lived objects.

Measured (two single profiles at once, 10 alternating blocks of 240 turns at 10 senders): the
longest turn of a block 134-193 ms against 124-447 ms; the Rasa server's event-loop CPU per
turn 0.968 of before (median). Frozen objects in reference cycles are never collected: a model
replaced at run time (``PUT /model``) stays in memory; these servers load theirs once.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Awaitable, Callable
from typing import Any, Final

#: Allocations between young collections, and the young and middle collections between
#: older ones (Python's defaults: 700, 10, 10).
THRESHOLDS: Final = (10_000, 20, 20)
_APPLIED_MARK: Final = "_posbot_gc_after_load"


def settle() -> None:
    """Collects everything once, freezes what is left, and sets :data:`THRESHOLDS`."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)


def after_load(load: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """``load`` (Rasa's model loader), then :func:`settle`."""

    @functools.wraps(load)
    async def load_then_settle(*args: Any, **kwargs: Any) -> Any:
        agent = await load(*args, **kwargs)
        settle()
        return agent

    setattr(load_then_settle, _APPLIED_MARK, True)
    return load_then_settle


def freeze_after_model_load() -> None:
    """Makes the Rasa server settle its collector once the model is loaded (idempotent)."""
    import rasa.core.run as rasa_run

    if getattr(rasa_run.load_agent_on_start, _APPLIED_MARK, False):
        return
    # serve_application registers the module's function by name when the server starts.
    rasa_run.load_agent_on_start = after_load(rasa_run.load_agent_on_start)
