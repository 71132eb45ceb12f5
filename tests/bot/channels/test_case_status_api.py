"""The operators' status API on a real Sanic server over a real SQLite store: authn, authz,
hostile bodies (4xx, nothing half-written), and a change the worker then announces."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from rasa.core.channels.channel import register
from sanic import Sanic
from sqlalchemy import func, select

from bot.channels.auth import AgentTokens, OperatorTokens
from bot.channels.case_status_api import MAX_BODY_BYTES, CaseStatusInput
from bot.services.case_status import CaseStatusService
from bot.settings import AGENT_TOKENS, OPERATOR_TOKENS
from bot.store.models import Case, CaseEvent
from tests.bot.channels.conftest import loopback_socket

CASE = "JC202611250001"
OPERATOR_TOKEN = "ops-token-0123456789"
AGENT_TOKEN = "agent-token-0123456789"


@pytest.fixture
async def api(seeded_store, monkeypatch) -> AsyncIterator[Callable[..., Any]]:
    monkeypatch.setattr(Sanic, "test_mode", True)
    app = Sanic(f"case_status_api_{uuid.uuid4().hex}", configure_logging=False)
    tokens = OperatorTokens.from_env({OPERATOR_TOKENS.env: f"ops1:{OPERATOR_TOKEN}"})
    register([CaseStatusInput(tokens, CaseStatusService(seeded_store))], app, route="/webhooks/")
    server = await app.create_server(
        sock=loopback_socket(), return_asyncio_server=True, access_log=False
    )
    await server.startup()
    port = server.server.sockets[0].getsockname()[1]
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5))

    async def post(case_id: str, body: Any, token: str | None = OPERATOR_TOKEN, raw=None):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        url = f"http://127.0.0.1:{port}/operator/cases/{case_id}/status"
        kwargs = {"data": raw, "headers": {**headers, "Content-Type": "application/json"}}
        if raw is None:
            kwargs = {"json": body, "headers": headers}
        async with session.post(url, **kwargs) as response:
            return response.status, await response.json(content_type=None)

    yield post
    await session.close()
    await server.close()


def _events(store) -> int:
    with store.session() as session:
        return session.execute(select(func.count()).select_from(CaseEvent)).scalar_one()


async def test_an_operator_sets_a_status(api, seeded_store):
    status, body = await api(CASE, {"status": "needs_documents", "missing": ["营业执照"]})
    assert (status, body) == (
        200,
        {
            "case_id": CASE,
            "old_status": "under_review",
            "new_status": "needs_documents",
            "changed": True,
        },
    )
    with seeded_store.session() as session:
        assert session.get(Case, CASE).missing_documents == "营业执照"
        event = session.execute(select(CaseEvent).order_by(CaseEvent.id.desc())).scalars().first()
        assert event.detail == "under_review -> needs_documents（操作员 ops1）"


async def test_only_operators_may(api, seeded_store):
    before = _events(seeded_store)
    agent = AgentTokens.from_env({AGENT_TOKENS.env: f"alice:{AGENT_TOKEN}"})
    assert agent.tokens == {"alice": AGENT_TOKEN}
    for token in (None, AGENT_TOKEN, "x" * 20, OPERATOR_TOKEN + " extra"):
        status, body = await api(CASE, {"status": "approved"}, token=token)
        assert status == 401 and "operator" in body["error"]
    assert _events(seeded_store) == before


@pytest.mark.parametrize(
    ("case_id", "body", "raw", "expected"),
    [
        (CASE, None, b"not json", (400, "expected a JSON object")),
        (CASE, None, b"\xff\xfe", (400, "expected a JSON object")),
        (CASE, [1, 2], None, (400, "expected a JSON object")),
        (CASE, {"status": 3}, None, (400, "status: expected a string")),
        (CASE, {"status": "approved", "admin": True}, None, (400, "unknown fields: admin")),
        (CASE, {"status": "needs_documents", "missing": "营业执照"}, None, (400, "missing:")),
        (CASE, {"status": "needs_documents", "missing": ["a"] * 21}, None, (400, "at most 20")),
        (CASE, {"status": "rejected", "reason": {"x": 1}}, None, (400, "reason:")),
        (CASE, {"status": "done"}, None, (400, "expected one of")),
        (CASE, {"status": "rejected", "reason": "长" * 501}, None, (400, "at most 500")),
        ("JC999", {"status": "approved"}, None, (400, "expected JC + 12 digits")),
        ("JC209901010001", {"status": "approved"}, None, (404, "does not exist")),
        (CASE, None, b"[" * 5000 + b"]" * 5000, (413, "at most")),
    ],
)
async def test_hostile_requests_change_nothing(api, seeded_store, case_id, body, raw, expected):
    before = _events(seeded_store)
    status, answer = await api(case_id, body, raw=raw)
    assert status == expected[0] and expected[1] in answer["error"]
    assert _events(seeded_store) == before
    with seeded_store.session() as session:
        assert session.get(Case, CASE).status == "under_review"


def test_the_body_limit_is_small():
    assert MAX_BODY_BYTES <= 8192
