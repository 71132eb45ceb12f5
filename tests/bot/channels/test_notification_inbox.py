"""The widget's inbox shows a conversation's status notifications once, only to that
conversation (its session token), on a real Sanic server over a real SQLite store."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from rasa.core.channels.channel import register
from sanic import Sanic

from bot.channels.notifications import InboxSender, NotificationWorker
from bot.channels.sessions import SESSION_HEADER, SessionTokens
from bot.channels.webchat import NOTICE, WebChatInput
from bot.services.case_status import set_case_status
from bot.services.identity import check_identity
from bot.services.notifications import NotificationPolicy, NotificationService, NotificationTexts
from tests.bot.channels.conftest import loopback_socket
from tests.conftest import ROOT

SENDER = "web-" + "1a" * 12
OTHER = "web-" + "2b" * 12
TOKENS = SessionTokens("widget-test-secret-0123456789")


@pytest.fixture
async def widget(
    seeded_store, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Callable[..., Any]]:
    """Serves the widget channel; returns ``poll(sender, token) -> (status, json)``."""
    monkeypatch.setattr(Sanic, "test_mode", True)
    app = Sanic(f"notify_inbox_{uuid.uuid4().hex}", configure_logging=False)
    channel = WebChatInput(TOKENS, notifications=NotificationService(seeded_store))
    register([channel], app, route="/webhooks/")
    server = await app.create_server(
        sock=loopback_socket(), return_asyncio_server=True, access_log=False
    )
    await server.startup()
    port = server.server.sockets[0].getsockname()[1]
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5))

    async def poll(sender: str, token: str | None = None) -> tuple[int, Any]:
        url = f"http://127.0.0.1:{port}/chat/inbox"
        headers = {SESSION_HEADER: token if token is not None else TOKENS.issue(f"rest:{sender}")}
        async with session.get(url, params={"sender": sender}, headers=headers) as response:
            return response.status, await response.json()

    yield poll
    await session.close()
    await server.close()


async def test_the_notification_shows_once_in_its_conversation_only(seeded_store, now, widget):
    with seeded_store.session() as session:
        check_identity(
            session,
            merchant_id="898310058121234",
            case_id=None,
            phone_last4="5678",
            sender_id=f"rest:{SENDER}",
            now=now,
        )
        set_case_status(
            session, case_id="JC202611250001", status="approved", missing=[], reason=None, now=now
        )
    texts = NotificationTexts.from_domain(ROOT / "domain.yml")
    worker = NotificationWorker(
        NotificationService(seeded_store),
        {"web": InboxSender()},
        NotificationPolicy(),
        texts,
        lambda: now + timedelta(seconds=1),
    )
    assert (await worker.run_once()).sent == 1
    # Hostile polls: no token, another conversation's token, a malformed sender.
    assert (await widget(SENDER, ""))[0] == 403
    assert (await widget(SENDER, TOKENS.issue(f"rest:{OTHER}")))[0] == 403
    assert (await widget("web-../../etc"))[0] == 400
    assert await widget(OTHER) == (200, {"messages": []})
    status, body = await widget(SENDER)
    assert status == 200
    [message] = body["messages"]
    assert message["from"] == NOTICE
    assert message["text"] == texts.render("approved", "JC202611250001")
    assert await widget(SENDER) == (200, {"messages": []})


async def test_a_store_outage_leaves_the_notices_for_the_next_poll(tmp_path, monkeypatch):
    from bot.store.database import CaseStore

    monkeypatch.setattr(Sanic, "test_mode", True)
    broken = CaseStore(f"sqlite:///{tmp_path / 'no-schema.db'}")  # no tables: every query fails
    channel = WebChatInput(TOKENS, notifications=NotificationService(broken))
    assert await channel._notices(f"rest:{SENDER}") == []
    broken.dispose()
