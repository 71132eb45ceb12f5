"""Item 9: no route reads a large body, and authenticated routes answer 401 before reading.

The app is made by Rasa's own ``rasa.core.run.configure_app`` with :mod:`bot.server_limits`
applied, as ``posbot serve`` and the production profile start it, and served on a free port.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import rasa.core.run
from sanic import Sanic

from bot import server_limits
from bot.channels.agent_desk import AgentDeskInput
from bot.channels.auth import AgentTokens
from bot.channels.copilot import CopilotInput
from bot.channels.faq import FaqInput
from bot.channels.rest import GuardedRestInput
from bot.channels.state.call_context import InMemoryCallContexts
from bot.server_limits import MAX_REQUEST_BYTES
from tests.security import servers
from tests.security.servers import Serve, raw_request

serve = servers.serve  # fixture

TOKEN = "alice-security-token-0123"


@pytest.fixture
def limited_configure_app(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(Sanic, "test_mode", True)
    monkeypatch.setenv("POSBOT_RATE_LIMIT", "off")
    original = rasa.core.run.configure_app
    server_limits.apply()
    yield
    rasa.core.run.configure_app = original


async def _rasa_app(serve: Serve) -> str:
    tokens = AgentTokens({"alice": TOKEN})
    channels = [
        GuardedRestInput(),
        FaqInput(),
        CopilotInput(tokens, store=object(), calls=InMemoryCallContexts()),
        AgentDeskInput(tokens, store=object()),
    ]
    app = rasa.core.run.configure_app(channels, enable_api=False, use_uvloop=False)
    assert app.config.REQUEST_MAX_SIZE == MAX_REQUEST_BYTES == 64 * 1024
    return await serve(app)


def _post(path: str, length: int, authorization: str = "") -> str:
    head = (
        f"POST {path} HTTP/1.1\nHost: test\nContent-Type: application/json\n"
        f"Content-Length: {length}"
    )
    return head + (f"\nAuthorization: {authorization}" if authorization else "")


@pytest.mark.usefixtures("limited_configure_app")
@pytest.mark.parametrize(
    ("path", "limit"),
    [("/faq/search", 65536), ("/webhooks/rest/webhook", 16384), ("/copilot/suggest", 16384)],
)
async def test_a_30_mb_body_is_refused_before_it_is_read(
    serve: Serve, path: str, limit: int
) -> None:
    base = await _rasa_app(serve)
    # Only the headers are sent: the answer must come at once, from the declared length.
    status, _, content = await raw_request(base, _post(path, 30 * 1024 * 1024, f"Bearer {TOKEN}"))
    assert status == 413
    assert json.loads(content) == {"error": f"body over {limit} bytes"}


@pytest.mark.usefixtures("limited_configure_app")
async def test_a_streamed_body_over_the_limit_is_refused(serve: Serve) -> None:
    base = await _rasa_app(serve)
    chunk = b"x" * 8192
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(10)) + b"0\r\n\r\n"
    head = (
        "POST /faq/search HTTP/1.1\nHost: test\nContent-Type: application/json\n"
        "Transfer-Encoding: chunked"
    )
    status, _, _ = await raw_request(base, head, chunks)
    assert status == 413


@pytest.mark.usefixtures("limited_configure_app")
async def test_a_body_under_the_limit_still_reaches_the_route(serve: Serve) -> None:
    base = await _rasa_app(serve)
    body = json.dumps({"q": "审核要多久"}).encode()
    status, _, content = await raw_request(base, _post("/faq/search", len(body)), body)
    assert (status, json.loads(content)) == (503, {"error": "model loading"})


@pytest.mark.usefixtures("limited_configure_app")
@pytest.mark.parametrize(
    "path",
    [
        "/copilot/suggest",
        "/agent/conversations/web-0123/reply",
        "/agent/conversations/web-0123/release",
    ],
)
@pytest.mark.parametrize("authorization", ["", "Bearer wrong-token-0000000000", "Basic eA=="])
async def test_authenticated_routes_answer_401_before_reading_the_body(
    serve: Serve,
    path: str,
    authorization: str,
) -> None:
    base = await _rasa_app(serve)
    # 60 KB declared (under the limit), 10 bytes sent: a route that read the body first would
    # wait for the rest until the request timeout.
    status, headers, content = await raw_request(
        base, _post(path, 60_000, authorization), b'{"text": "', timeout=2.0
    )
    assert status == 401
    assert headers["www-authenticate"].startswith("Bearer")
    assert json.loads(content) == {"error": "unauthorized"}


@pytest.mark.usefixtures("limited_configure_app")
@pytest.mark.parametrize("path", ["/copilot/suggest", "/agent/conversations/web-0123/reply"])
async def test_an_agent_body_over_16_kb_is_refused(serve: Serve, path: str) -> None:
    base = await _rasa_app(serve)
    body = json.dumps({"call_id": "c1", "text": "很" * 6000}).encode()
    status, _, content = await raw_request(base, _post(path, len(body), f"Bearer {TOKEN}"), body)
    assert status == 413
    assert json.loads(content) == {"error": "body over 16384 bytes"}
