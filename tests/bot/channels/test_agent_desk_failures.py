"""The agent desk when the conversation store (tracker or lock store) is down: a 503, not a
dropped connection or a stack trace."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from rasa.core.channels.channel import register
from rasa.core.lock_store import LockError
from rasa.shared.core.domain import Domain
from sanic import Sanic

from bot.channels.agent_desk import AgentDeskInput
from bot.channels.auth import AgentTokens
from bot.store.tracker_store import TrackerStoreUnavailable
from tests.conftest import ROOT

TOKEN = "alice-token-0123456789"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}


class DownTrackerStore:
    async def retrieve(self, sender_id: str) -> Any:
        raise TrackerStoreUnavailable("tracker database unreachable")


class DownLockStore:
    @asynccontextmanager
    async def lock(self, sender_id: str) -> AsyncIterator[None]:
        raise LockError("lock store unreachable")
        yield


@dataclass
class BrokenAgent:
    tracker_store: Any
    lock_store: Any
    domain: Any = field(default_factory=lambda: Domain.load(str(ROOT / "domain.yml")))

    def is_ready(self) -> bool:
        return True


@pytest.fixture
async def desk(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(Sanic, "test_mode", True)

    async def start(agent: BrokenAgent) -> tuple[aiohttp.ClientSession, str, Any]:
        app = Sanic(f"desk_test_{uuid.uuid4().hex}", configure_logging=False)
        app.ctx.agent = agent
        register([AgentDeskInput(AgentTokens({"alice": TOKEN}))], app, route="/webhooks/")
        server = await app.create_server(
            host="127.0.0.1", port=0, return_asyncio_server=True, access_log=False
        )
        await server.startup()
        port = server.server.sockets[0].getsockname()[1]
        session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5))
        started.append((session, server))
        return session, f"http://127.0.0.1:{port}", server

    started: list[tuple[aiohttp.ClientSession, Any]] = []
    yield start
    for session, server in started:
        await session.close()
        server.close()
        await server.wait_closed()


async def _paths(desk: Any, agent: BrokenAgent) -> list[tuple[int, Any]]:
    session, base, _ = await desk(agent)
    prefix = f"{base}{AgentDeskInput().url_prefix()}/conversations/merchant-1"
    calls = [
        session.get(prefix, headers=HEADERS),
        session.post(f"{prefix}/reply", json={"text": "您好，我是客服小王"}, headers=HEADERS),
        session.post(f"{prefix}/release", headers=HEADERS),
    ]
    results = []
    for call in calls:
        async with call as response:
            results.append((response.status, await response.json()))
    return results


async def test_tracker_store_down_gives_503_on_every_conversation_path(desk, caplog):
    results = await _paths(desk, BrokenAgent(DownTrackerStore(), DownLockStore()))
    assert results == [(503, {"error": "conversation store unavailable"})] * 3
    assert "Traceback" not in caplog.text


async def test_lock_store_down_gives_503_when_writing(desk):
    class EmptyTrackerStore:
        async def retrieve(self, sender_id: str) -> Any:
            return None

    results = await _paths(desk, BrokenAgent(EmptyTrackerStore(), DownLockStore()))
    # Reading works (no such conversation); writing needs the lock and reports the outage.
    assert [status for status, _ in results] == [404, 503, 404]
