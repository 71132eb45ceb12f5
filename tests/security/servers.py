"""Real Sanic servers on free loopback ports for the security tests, and a raw HTTP client."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from sanic import Sanic

from tests.bot.channels.conftest import loopback_socket

Serve = Callable[[Sanic], Awaitable[str]]


@pytest.fixture
async def serve(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Serve]:
    """Starts apps on 127.0.0.1 (free ports); returns their base URL; stops them afterwards."""
    # Sanic 21.12 starts several apps in one process only in test mode.
    monkeypatch.setattr(Sanic, "test_mode", True)
    servers: list[Any] = []

    async def start(app: Sanic) -> str:
        server = await app.create_server(
            sock=loopback_socket(), return_asyncio_server=True, access_log=False
        )
        await server.startup()
        servers.append(server)
        port = server.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


def new_app() -> Sanic:
    return Sanic(f"security_test_{uuid.uuid4().hex}", configure_logging=False)


async def raw_request(
    base_url: str, head: str, body: bytes = b"", timeout: float = 3.0
) -> tuple[int, dict[str, str], bytes]:
    """Sends ``head`` (request line and headers, no blank line) and ``body``; reads the answer.

    The body may be shorter than the declared ``Content-Length``: the answer must then come
    without the server waiting for the rest.

    Raises:
        asyncio.TimeoutError: no complete answer within ``timeout`` seconds.
    """
    host, port = base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(head.replace("\n", "\r\n").encode() + b"\r\n\r\n" + body)
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), timeout)
        headers: dict[str, str] = {}
        while (line := await asyncio.wait_for(reader.readline(), timeout)) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        content = await asyncio.wait_for(reader.readexactly(length), timeout) if length else b""
        return int(status_line.split()[1]), headers, content
    finally:
        writer.close()
