"""Reading a request body with a size limit, before it is held in memory in full."""

from __future__ import annotations

import json
from typing import Any

from sanic.exceptions import PayloadTooLarge
from sanic.request import Request


class BodyTooLarge(Exception):
    """The declared or actual body size is over the limit."""


async def read_limited_body(request: Request, max_bytes: int) -> bytes:
    """Reads the body of a ``stream=True`` route, refusing more than ``max_bytes``.

    A declared ``Content-Length`` over the limit is refused before anything is read; a chunked
    body is refused as soon as it passes the limit. On a non-streaming route Sanic has read the
    body already, and only its size is checked.

    Raises:
        BodyTooLarge: when the body is over ``max_bytes``.
    """
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > max_bytes:
        raise BodyTooLarge
    if request.body or request.stream is None:
        if len(request.body) > max_bytes:
            raise BodyTooLarge
        return request.body
    # Sanic drains an unread body after the response; the lower limit makes it stop early.
    request.stream.request_max_size = max_bytes
    received = bytearray()
    try:
        while (chunk := await request.stream.read()) is not None:
            received += chunk
            if len(received) > max_bytes:
                raise BodyTooLarge
    except PayloadTooLarge:
        raise BodyTooLarge from None
    return bytes(received)


async def read_json_body(request: Request, max_bytes: int) -> Any:
    """The JSON value of a limited body (see :func:`read_limited_body`); ``None`` if not JSON.

    Raises:
        BodyTooLarge: when the body is over ``max_bytes``.
    """
    body = await read_limited_body(request, max_bytes)
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
