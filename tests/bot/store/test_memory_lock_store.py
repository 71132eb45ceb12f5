"""The in-memory lock store of ``make run``: each hold is named and handed the previous one, so
the tracker store reads nothing when this process saw the conversation in its previous turn."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
import yaml
from rasa.core.lock_store import InMemoryLockStore, LockStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.utils.endpoints import EndpointConfig
from sqlalchemy import event

from bot.store.lock_context import Hold, current_hold
from bot.store.memory_lock_store import HoldingInMemoryLockStore
from bot.store.tracker_store import RedactingSQLTrackerStore
from tests.conftest import ROOT


async def _hold(store: HoldingInMemoryLockStore, conversation: str) -> Hold:
    async with store.lock(conversation):
        hold = current_hold(conversation)
    assert hold is not None
    return hold


def test_make_runs_endpoints_file_builds_this_lock_store() -> None:
    section = yaml.safe_load((ROOT / "endpoints.yml").read_text(encoding="utf-8"))["lock_store"]

    store = LockStore.create(EndpointConfig.from_dict(section))

    assert isinstance(store, HoldingInMemoryLockStore)


async def test_each_hold_is_handed_the_previous_one_of_its_conversation() -> None:
    store = HoldingInMemoryLockStore()

    first = await _hold(store, "a")
    other = await _hold(store, "b")
    second = await _hold(store, "a")

    assert first.previous_hold_id is None and other.previous_hold_id is None
    assert second.previous_hold_id == first.hold_id
    assert len({first.hold_id, other.hold_id, second.hold_id}) == 3
    assert current_hold("a") is None  # only inside the lock


async def test_forgotten_and_expired_holds_are_not_handed_on() -> None:
    bounded = HoldingInMemoryLockStore(max_remembered=2)
    await _hold(bounded, "a")
    await _hold(bounded, "b")
    await _hold(bounded, "c")  # "a" is the least recently held: forgotten
    assert (await _hold(bounded, "a")).previous_hold_id is None
    assert (await _hold(bounded, "c")).previous_hold_id is not None

    expiring = HoldingInMemoryLockStore(last_hold_seconds=0.0)
    await _hold(expiring, "a")
    assert (await _hold(expiring, "a")).previous_hold_id is None


async def test_a_waiting_turn_goes_in_soon_after_the_holder_leaves() -> None:
    store = HoldingInMemoryLockStore()
    order: list[str] = []
    released_at: list[float] = []

    async def first() -> None:
        async with store.lock("a"):
            order.append("first in")
            await asyncio.sleep(0.1)
            order.append("first out")
            released_at.append(time.monotonic())

    async def second() -> float:
        await asyncio.sleep(0.01)
        async with store.lock("a"):
            order.append("second in")
            return time.monotonic()

    _, entered = await asyncio.gather(first(), second())

    assert order == ["first in", "first out", "second in"]
    assert entered - released_at[0] < 0.5  # Rasa's in-memory store polls once a second


async def test_a_turn_after_this_processs_own_turn_reads_nothing(tmp_path: Path) -> None:
    domain = Domain.load(str(ROOT / "domain.yml"))
    tracker_store = RedactingSQLTrackerStore(domain=domain, host=f"sqlite:///{tmp_path}/t.db")
    sent: list[str] = []

    async def turn(locks: LockStore, text: str) -> list[str]:
        sent.clear()
        async with locks.lock("m1"):
            tracker = await tracker_store.retrieve("m1") or tracker_store.init_tracker("m1")
            tracker.update(UserUttered(text, {"name": "greet", "confidence": 1.0}))
            tracker.update(ActionExecuted("action_listen"))
            await tracker_store.save(tracker)
        return [statement.split()[0] for statement in sent]

    holding = HoldingInMemoryLockStore()
    try:
        await turn(holding, "你好")  # creates the table
        event.listen(
            tracker_store.engine, "before_cursor_execute", lambda *args: sent.append(args[2])
        )
        assert await turn(holding, "审核要多久") == ["INSERT"]
        assert await turn(InMemoryLockStore(), "几天") == ["SELECT", "INSERT"]  # Rasa's
        assert await turn(holding, "谢谢") == ["SELECT", "INSERT"]  # someone held it meanwhile
        assert await turn(holding, "再见") == ["INSERT"]
        stored = (await tracker_store.retrieve("m1")).events
        assert [e.text for e in stored if e.type_name == "user"] == [
            "你好", "审核要多久", "几天", "谢谢", "再见"
        ]  # fmt: skip
    finally:
        tracker_store.close()


@pytest.mark.parametrize("conversation", ["", "x" * 10_000])
async def test_odd_conversation_ids_are_held_like_any_other(conversation: str) -> None:
    store = HoldingInMemoryLockStore()

    first = await _hold(store, conversation)

    assert (await _hold(store, conversation)).previous_hold_id == first.hold_id
