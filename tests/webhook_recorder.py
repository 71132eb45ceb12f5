"""A stand-in action server on a free loopback port that records what it is sent."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

EMPTY_RESULT = {"events": [], "responses": []}


@contextlib.asynccontextmanager
async def webhook_recorder() -> AsyncIterator[tuple[str, list[bytes]]]:
    """Yields the URL of its ``/webhook`` (answered with an empty action result) and the list
    of the request bodies it receives."""
    from aiohttp import web

    received: list[bytes] = []

    async def handler(request: web.Request) -> web.Response:
        received.append(await request.read())
        return web.json_response(EMPTY_RESULT)

    app = web.Application()
    app.router.add_post("/webhook", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/webhook", received
    finally:
        await runner.cleanup()
