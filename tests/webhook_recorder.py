"""A stand-in action server on a free loopback port that records what it is sent."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

EMPTY_RESULT = {"events": [], "responses": []}


@contextlib.asynccontextmanager
async def webhook_recorder(
    port: int = 0, peers: list[tuple[str, int]] | None = None
) -> AsyncIterator[tuple[str, list[bytes]]]:
    """Yields the URL of its ``/webhook`` (answered with an empty action result) and the list
    of the request bodies it receives; on ``port`` (0: a free one), appending each request's
    client address to ``peers`` when given."""
    from aiohttp import web

    received: list[bytes] = []

    async def handler(request: web.Request) -> web.Response:
        received.append(await request.read())
        if peers is not None and request.transport is not None:
            peers.append(request.transport.get_extra_info("peername"))
        return web.json_response(EMPTY_RESULT)

    app = web.Application()
    app.router.add_post("/webhook", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/webhook", received
    finally:
        await runner.cleanup()
