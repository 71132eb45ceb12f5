"""The operators' console over HTTP: roles, figures, CSV exports, date validation."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from rasa.core.channels.channel import register
from sanic import Sanic

from bot.channels.auth import AgentTokens, OperatorTokens
from bot.channels.ops import OpsConsoleInput
from bot.services.console import FIGURES, ConsoleData, ConsoleService
from bot.store.database import CaseStore
from tests.bot.services.console_data import events_engine, fill_cases, fill_events

OPS_TOKEN = "ops-token-0123456789abcdef"
AGENT_TOKEN = "alice-token-0123456789"
OPS = {"Authorization": f"Bearer {OPS_TOKEN}"}
RANGE = "since=2026-11-20&until=2026-11-22"
API_PATHS = (
    f"/ops/api/dashboard?{RANGE}",
    f"/ops/api/figures/volume?{RANGE}",
    f"/ops/api/figures/volume.csv?{RANGE}",
    f"/ops/api/figures/no_such_figure.csv?{RANGE}",
)


async def _serve(channel: OpsConsoleInput) -> AsyncIterator[tuple[aiohttp.ClientSession, str]]:
    app = Sanic(f"ops_test_{uuid.uuid4().hex}", configure_logging=False)
    register([channel], app, route="/webhooks/")
    server = await app.create_server(
        host="127.0.0.1", port=0, return_asyncio_server=True, access_log=False
    )
    await server.startup()
    port = server.server.sockets[0].getsockname()[1]
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
    try:
        yield session, f"http://127.0.0.1:{port}"
    finally:
        await session.close()
        server.close()
        await server.wait_closed()


def _channel(data: ConsoleData) -> OpsConsoleInput:
    return OpsConsoleInput(
        OperatorTokens({"ops1": OPS_TOKEN}),
        AgentTokens({"alice": AGENT_TOKEN}),
        ConsoleService(data),
    )


@pytest.fixture
async def client(
    tmp_path: Path, store: CaseStore, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[aiohttp.ClientSession, str]]:
    monkeypatch.setattr(Sanic, "test_mode", True)
    engine = events_engine(f"sqlite:///{tmp_path / 'tracker.db'}")
    fill_events(engine)
    fill_cases(store)
    async for pair in _serve(_channel(ConsoleData(store, engine))):
        yield pair


async def _get(client: Any, path: str, headers: dict[str, str] | None = None) -> Any:
    session, base = client
    async with session.get(base + path, headers=headers or {}) as reply:
        body = await reply.read()
        return reply.status, reply.headers, body


async def test_page_is_served_without_a_token_and_holds_no_data(client: Any) -> None:
    status, headers, body = await _get(client, "/ops/")
    assert status == 200
    page = body.decode()
    assert 'href="/ops"' in page and 'href="/ops/content"' in page
    assert "概览" in page and "回复内容" in page
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    status, headers, body = await _get(client, "/ops/static/ops.js")
    assert status == 200 and b"posbot-ops-token" in body


@pytest.mark.parametrize("path", API_PATHS)
@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, 401),
        ({"Authorization": "Bearer wrong-token-0123456789"}, 401),
        ({"Authorization": f"Basic {OPS_TOKEN}"}, 401),
        ({"Authorization": "Bearer "}, 401),
        ({"Authorization": f"Bearer {AGENT_TOKEN}"}, 403),
    ],
)
async def test_only_operators_get_figures(
    client: Any, path: str, headers: dict[str, str], expected: int
) -> None:
    status, reply_headers, body = await _get(client, path, headers)
    assert status == expected
    assert b"2026-11-20" not in body
    if expected == 401:
        assert reply_headers["WWW-Authenticate"] == 'Bearer realm="operator"'


async def test_dashboard_for_an_operator(client: Any) -> None:
    status, headers, body = await _get(client, f"/ops/api/dashboard?{RANGE}", OPS)
    assert status == 200
    assert headers["Cache-Control"] == "no-store"
    import json

    data = json.loads(body)
    assert data["since"] == "2026-11-20" and data["until"] == "2026-11-22"
    figures = {f["key"]: f for f in data["figures"]}
    assert list(figures) == list(FIGURES)
    assert figures["volume"]["rows"] == [
        ["2026-11-20", 3, 7],
        ["2026-11-21", 3, 6],
        ["2026-11-22", 0, 0],
    ]
    assert figures["containment"]["totals"]["containment_rate"] == 0.4
    assert figures["volume"]["svg"].startswith("<svg xmlns='http://www.w3.org/2000/svg'")
    assert "<script" not in "".join(f["svg"] for f in figures.values())


async def test_csv_export(client: Any) -> None:
    status, headers, body = await _get(client, f"/ops/api/figures/handoffs.csv?{RANGE}", OPS)
    assert status == 200
    assert headers["Content-Type"] == "text/csv; charset=utf-8"
    assert (
        headers["Content-Disposition"]
        == 'attachment; filename="handoffs_2026-11-20_2026-11-22.csv"'
    )
    assert body.decode().splitlines() == [
        "day,handoffs,asked,failed_verification,two_misses,other,handoff_rate",
        "2026-11-20,1,1,0,0,0,0.3333",
        "2026-11-21,2,0,1,1,0,0.6667",
        "2026-11-22,0,0,0,0,0,0.0",
    ]


async def test_every_figure_has_a_csv_export(client: Any) -> None:
    for key in FIGURES:
        status, _, body = await _get(client, f"/ops/api/figures/{key}.csv?{RANGE}", OPS)
        assert status == 200, key
        assert body.decode().splitlines()[0].split(",")[0] in ("day", "intent", "code", "group")


async def test_unknown_figure_is_404_for_an_operator(client: Any) -> None:
    status, _, body = await _get(client, f"/ops/api/figures/nope.csv?{RANGE}", OPS)
    assert status == 404
    assert b"no figure 'nope'" in body


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("since=2026-02-30", "since: '2026-02-30' is not a valid date (YYYY-MM-DD)"),
        ("since=2026-11-22&until=2026-11-20", "since 2026-11-22 is after until 2026-11-20"),
        ("since=2020-01-01&until=2026-01-01", "the range has 2193 days; at most 366 are allowed"),
        ("until=%3Cscript%3E", "until: '<script>' is not a date (YYYY-MM-DD)"),
    ],
)
@pytest.mark.parametrize("path", ["/ops/api/dashboard", "/ops/api/figures/volume.csv"])
async def test_bad_dates_are_400_with_the_reason(
    client: Any, path: str, query: str, message: str
) -> None:
    import json

    status, _, body = await _get(client, f"{path}?{query}", OPS)
    assert status == 400
    assert json.loads(body) == {"error": message}


async def test_database_down_is_503(
    tmp_path: Path, store: CaseStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Sanic, "test_mode", True)
    missing = events_engine(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'tracker.db'}")
    async for client in _serve(_channel(ConsoleData(store, missing))):
        status, _, body = await _get(client, f"/ops/api/dashboard?{RANGE}", OPS)
        assert status == 503
        assert b"database unavailable" in body
