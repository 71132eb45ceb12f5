"""The Rasa server's collector settled once its model is loaded."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator
from typing import Any

import pytest

from bot import gc_settings


class _Node:
    def __init__(self) -> None:
        self.other: Any = self


@pytest.fixture
def restored_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_after_load_returns_the_agent_then_freezes_with_fewer_collections(
    restored_gc: None,
) -> None:
    calls: list[tuple[Any, ...]] = []
    garbage = _Node()  # a reference cycle nobody holds: collected, not frozen
    dead = weakref.ref(garbage)
    del garbage

    async def load(*args: Any, **kwargs: Any) -> str:
        calls.append((args, kwargs))
        assert gc.get_freeze_count() == 0  # not before the model is loaded
        return "agent"

    agent = asyncio.run(gc_settings.after_load(load)("model.tar.gz", endpoints=None))

    assert agent == "agent"
    assert calls == [(("model.tar.gz",), {"endpoints": None})]
    assert dead() is None
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == gc_settings.THRESHOLDS == (10_000, 20, 20)


def test_the_server_loader_is_wrapped_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import rasa.core.run as rasa_run

    original = rasa_run.load_agent_on_start
    monkeypatch.setattr(rasa_run, "load_agent_on_start", original)

    gc_settings.freeze_after_model_load()
    wrapped = rasa_run.load_agent_on_start
    gc_settings.freeze_after_model_load()

    assert wrapped is not original and rasa_run.load_agent_on_start is wrapped
    assert wrapped.__wrapped__ is original  # type: ignore[attr-defined]
