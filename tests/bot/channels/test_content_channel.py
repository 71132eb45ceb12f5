"""/ops/content: operators only, precise refusals, audited edits, and the HTTP NLG endpoint."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from rasa.core.channels.channel import register
from rasa.shared.core.domain import Domain
from sanic import Sanic
from sqlalchemy import select

from bot import operator_facts as facts_module
from bot.channels.auth import AgentTokens, OperatorTokens
from bot.channels.content import ContentInput
from bot.services.content import ContentCache
from bot.store.database import CaseStore
from bot.store.models import ContentEdit, ContentOverride
from tests.conftest import ROOT

OPS_TOKEN = "ops-token-0123456789abc"
AGENT_TOKEN = "alice-token-0123456789"
ACTIONS_SECRET = "actions-secret-for-the-test"
OPS = {"Authorization": f"Bearer {OPS_TOKEN}"}
AGENT = {"Authorization": f"Bearer {AGENT_TOKEN}"}
REVIEW = "utter_review_time"


@dataclass
class Agent:
    domain: Any = field(default_factory=lambda: Domain.load(str(ROOT / "domain.yml")))

    def is_ready(self) -> bool:
        return True


@pytest.fixture
async def client(monkeypatch, store):
    monkeypatch.setattr(Sanic, "test_mode", True)
    monkeypatch.setenv("POSBOT_HOTLINE", "95000")
    monkeypatch.setenv("POSBOT_OPERATOR_FILE", "/nonexistent/operator.yml")
    monkeypatch.setenv("POSBOT_ACTIONS_SECRET", ACTIONS_SECRET)
    facts_module.operator_facts.cache_clear()
    app = Sanic(f"content_test_{uuid.uuid4().hex}", configure_logging=False)
    app.ctx.agent = Agent()
    channel = ContentInput(
        OperatorTokens({"ops1": OPS_TOKEN}),
        AgentTokens({"alice": AGENT_TOKEN}),
        store=store,
        cache=ContentCache(lambda: store, check_seconds=60),
    )
    register([channel], app, route="/webhooks/")
    server = await app.create_server(
        host="127.0.0.1", port=0, return_asyncio_server=True, access_log=False
    )
    await server.startup()
    port = server.server.sockets[0].getsockname()[1]
    session = aiohttp.ClientSession(
        base_url=f"http://127.0.0.1:{port}", timeout=aiohttp.ClientTimeout(total=10)
    )
    yield session
    await session.close()
    await server.close()
    facts_module.operator_facts.cache_clear()


def _rows(store: CaseStore) -> list[ContentEdit]:
    with store.session() as session:
        return list(session.execute(select(ContentEdit)).scalars())


ROUTES = [
    ("GET", "/ops/content/api/items", None),
    ("GET", "/ops/content/api/history", None),
    ("PUT", f"/ops/content/api/responses/{REVIEW}", {"text": "新"}),
    ("DELETE", f"/ops/content/api/responses/{REVIEW}", None),
    ("POST", "/ops/content/api/edits/1/revert", None),
    ("POST", "/ops/content/nlg", {"response": REVIEW}),
]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
async def test_public_gets_401_and_agents_403(client, store, method, path, body):
    for headers, status in (
        ({}, 401),
        ({"Authorization": "Bearer not-a-real-token-at-all"}, 401),
        ({"Authorization": OPS_TOKEN}, 401),  # no scheme
        (AGENT, 403),
    ):
        async with client.request(method, path, json=body, headers=headers) as reply:
            assert reply.status == status
            data = await reply.json()
            assert data["zh"] and data["en"]
    assert _rows(store) == []


async def test_the_page_has_the_shared_nav_and_no_cdn(client):
    async with client.get("/ops/content/") as reply:
        page = await reply.text()
        assert reply.status == 200
        assert "default-src 'self'" in reply.headers["Content-Security-Policy"]
    assert 'href="/ops">概览</a>' in page and 'href="/ops/content"' in page and "回复内容" in page
    assert "http://" not in page and "https://" not in page
    async with client.get("/ops/content/static/content.js") as reply:
        script = await reply.text()
    assert '"posbot-ops-token"' in script and "innerHTML" not in script


async def test_an_operator_lists_edits_and_resets(client, store):
    async with client.get("/ops/content/api/items", headers=OPS) as reply:
        items = {(i["kind"], i["name"]): i for i in (await reply.json())["items"]}
    assert items[("fact", "hotline")]["text"] == "95000"
    review = items[("response", REVIEW)]
    assert review["edited"] is False and review["text"].startswith("审核一般需要")
    assert items[("response", "utter_greet")]["buttons"][0] == "为什么被停用"

    async with client.put(
        f"/ops/content/api/responses/{REVIEW}", json={"text": "审核约 5 个工作日。"}, headers=OPS
    ) as reply:
        assert reply.status == 200
        edit = (await reply.json())["edit"]
    assert edit["operator_id"] == "ops1" and edit["new_text"] == "审核约 5 个工作日。"
    [row] = _rows(store)
    assert (row.operator_id, row.old_text, row.new_text) == ("ops1", None, "审核约 5 个工作日。")

    async with client.post("/ops/content/nlg", json={"response": REVIEW}, headers=OPS) as reply:
        assert (await reply.json())["text"] == "审核约 5 个工作日。"

    async with client.delete(f"/ops/content/api/responses/{REVIEW}", headers=OPS) as reply:
        assert reply.status == 200
    with store.session() as session:
        assert session.execute(select(ContentOverride)).first() is None
    async with client.get(
        f"/ops/content/api/history?kind=responses&name={REVIEW}", headers=OPS
    ) as reply:
        assert [e["action"] for e in (await reply.json())["edits"]] == ["reset", "edit"]


@pytest.mark.parametrize(
    ("path", "body", "status", "error"),
    [
        (f"/ops/content/api/responses/{REVIEW}", "not json", 400, "bad_body"),
        (f"/ops/content/api/responses/{REVIEW}", [1, 2], 400, "bad_body"),
        (f"/ops/content/api/responses/{REVIEW}", {"text": "x", "buttons": []}, 400, "bad_body"),
        (f"/ops/content/api/responses/{REVIEW}", {"text": ["x"]}, 400, "not_text"),
        (f"/ops/content/api/responses/{REVIEW}", {"text": "<script>x</script>"}, 400, "markup"),
        (f"/ops/content/api/responses/{REVIEW}", {"text": "{x}"}, 400, "unknown_placeholder"),
        (
            "/ops/content/api/responses/utter_handoff",
            {"text": "已转人工"},
            400,
            "missing_placeholder",
        ),
        ("/ops/content/api/responses/utter_no_such", {"text": "x"}, 404, "not_found"),
        ("/ops/content/api/responses/" + "u" * 300, {"text": "x"}, 404, "not_found"),
        ("/ops/content/api/cases/JC1", {"text": "x"}, 404, "not_found"),
        ("/ops/content/api/facts/hotline", {"text": "打电话"}, 400, "hotline_format"),
    ],
)
async def test_hostile_edits_are_refused_precisely(client, store, path, body, status, error):
    kwargs = {"data": body} if isinstance(body, str) else {"json": body}
    async with client.put(path, headers=OPS, **kwargs) as reply:
        assert reply.status == status
        data = await reply.json()
    assert data["error"] == error
    assert data["zh"] and data["en"]
    assert _rows(store) == []


async def test_revert_and_unknown_edit(client, store):
    async with client.put(
        "/ops/content/api/facts/provider_name", json={"text": "某某支付"}, headers=OPS
    ) as reply:
        edit_id = (await reply.json())["edit"]["id"]
    async with client.post(f"/ops/content/api/edits/{edit_id}/revert", headers=OPS) as reply:
        assert reply.status == 200
        assert (await reply.json())["edit"]["new_text"] is None
    async with client.post("/ops/content/api/edits/999/revert", headers=OPS) as reply:
        assert reply.status == 404
    async with client.post("/ops/content/api/edits/abc/revert", headers=OPS) as reply:
        assert reply.status == 404
    assert [r.action for r in _rows(store)] == ["edit", "revert"]


async def test_the_nlg_endpoint_speaks_rasas_protocol(client):
    body = {
        "response": "utter_handoff",
        "arguments": {"ticket_id": "TK202611260001", "queue_ahead": 1, "wait_minutes": 5},
        "tracker": {"sender_id": "m1", "slots": {}, "events": [{"event": "action"}] * 3},
        "channel": {"name": "rest"},
    }
    headers = {"Authorization": f"Bearer {ACTIONS_SECRET}"}
    async with client.post("/ops/content/nlg", json=body, headers=headers) as reply:
        assert reply.status == 200
        filled = await reply.json()
    assert filled["text"].startswith("已为您转人工客服，工单号 TK202611260001。")
    assert "拨打客服热线 95000，" in filled["text"]
    async with client.post(
        "/ops/content/nlg", json={"response": "utter_nope"}, headers=headers
    ) as reply:
        assert reply.status == 404
    async with client.post("/ops/content/nlg", json={"tracker": 1}, headers=headers) as reply:
        assert reply.status == 400


async def test_store_down_is_a_503_and_writes_nothing(monkeypatch, client, store):
    with store.engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE content_edits")
    async with client.put(
        f"/ops/content/api/responses/{REVIEW}", json={"text": "审核约 5 天。"}, headers=OPS
    ) as reply:
        assert reply.status == 503
        assert (await reply.json())["error"] == "store_unavailable"
    with store.session() as session:
        assert session.execute(select(ContentOverride)).first() is None
