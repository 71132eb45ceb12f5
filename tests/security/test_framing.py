"""Issue 11, item 13: who may frame the bot's pages, and ``/chat?q=`` never sends by itself.

The pages are served by the real channels on a real Sanic server; the last test opens the
widget with ``?q=`` in chromium against the real servers.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest
from rasa.core.channels.channel import register
from rasa.shared.core.domain import Domain
from sanic import Sanic

from bot.channels.agent_desk import AgentDeskInput
from bot.channels.auth import AgentTokens
from bot.channels.copilot import CopilotInput
from bot.channels.faq import FaqInput
from bot.channels.pages import chat_embed_origins
from bot.channels.sessions import SessionTokens
from bot.channels.webchat import WebChatInput
from tests.bot.channels.conftest import loopback_socket
from tests.conftest import ROOT

SHOP = "https://shop.example.com"


@dataclass
class PageAgent:
    """Enough of Rasa's agent for the pages: the domain."""

    domain: Domain

    def is_ready(self) -> bool:
        return True


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(ROOT / "domain.yml"))


@pytest.fixture
async def site(domain: Domain, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[str]:
    monkeypatch.setattr(Sanic, "test_mode", True)
    app = Sanic(f"framing_test_{uuid.uuid4().hex}", configure_logging=False)
    app.ctx.agent = PageAgent(domain)
    tokens = AgentTokens({"alice": "alice-token-0123456789"})
    channels = [
        WebChatInput(SessionTokens("s" * 32), embed_origins=f"'self' {SHOP}"),
        FaqInput(),
        CopilotInput(tokens=tokens, calls=object()),
        AgentDeskInput(tokens),
    ]
    register(channels, app, route="/webhooks/")
    server = await app.create_server(
        sock=loopback_socket(), return_asyncio_server=True, access_log=False
    )
    await server.startup()
    yield f"http://127.0.0.1:{server.server.sockets[0].getsockname()[1]}"
    server.close()
    await server.wait_closed()


async def _headers(url: str) -> dict[str, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return dict(response.headers)


@pytest.mark.parametrize(
    "path", ["/copilot/", "/faq/", "/agent/conversations", "/agent/conversations/rest:x"]
)
async def test_agent_and_faq_pages_can_never_be_framed(site: str, path: str) -> None:
    headers = await _headers(site + path)
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"


async def test_the_widget_may_be_framed_only_by_the_configured_origins(site: str) -> None:
    headers = await _headers(f"{site}/chat/")
    policy = headers["Content-Security-Policy"]
    assert f"frame-ancestors 'self' {SHOP}" in policy
    assert "script-src 'self'" in policy  # the page's own policy is kept
    assert "X-Frame-Options" not in headers  # it cannot name another origin; CSP decides


@pytest.mark.parametrize(
    ("configured", "allowed"),
    [
        ("", "'self'"),
        ("'self'", "'self'"),
        (f"{SHOP} http://127.0.0.1:8081", f"{SHOP} http://127.0.0.1:8081"),
        (f"{SHOP}; script-src *", "'self'"),  # nothing can be smuggled into the header
        ("*", "'self'"),
        ("javascript:alert(1)", "'self'"),
    ],
)
def test_embed_origins_come_from_the_environment(configured: str, allowed: str) -> None:
    assert chat_embed_origins({"POSBOT_CHAT_EMBED_ORIGINS": configured}) == allowed


def test_a_question_in_the_link_is_prefilled_but_never_sent(running_bot, page) -> None:
    bot, _ = running_bot
    page.goto(f"{bot.url}/chat?q=%E6%9F%A5%E4%B8%8B%E8%BF%9B%E5%BA%A6")
    page.wait_for_selector(".msg.bot")  # the greeting
    page.wait_for_function("document.getElementById('typing').hidden")
    page.wait_for_timeout(1500)
    assert page.input_value("#input") == "查下进度"
    assert page.locator(".msg.user").all_inner_texts() == ["你好"]  # only the greeting
    assert "q=" not in page.url
