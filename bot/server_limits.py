"""Limits of the Rasa server's Sanic app: request size and the per-client rate limit.

Rasa 3.6 creates its Sanic app in ``rasa.core.run.configure_app`` with Sanic's defaults, which
read bodies of up to 100 MB on every route. :func:`apply` wraps that function so that the app
it returns refuses larger bodies than ``MAX_REQUEST_BYTES`` (413 before the body is read, from
the declared ``Content-Length`` or while streaming) and carries the per-client rate limit of
:mod:`bot.channels.rate_limit`. The limits are installed before the server starts listening.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from sanic import Sanic, response
from sanic.exceptions import PayloadTooLarge
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.rate_limit import install

# The largest body any route of the Rasa server takes: the REST channel reads 16 KB at most,
# WeChat callbacks 64 KB; Rasa's HTTP API (model upload) is not enabled.
MAX_REQUEST_BYTES: Final = 64 * 1024
_APPLIED_MARK: Final = "_posbot_limits"


def payload_too_large(_request: Request, _error: Exception) -> HTTPResponse:
    """The 413 of the body limit, in the same JSON form as the channels' own errors."""
    return response.json({"error": f"body over {MAX_REQUEST_BYTES} bytes"}, status=413)


def configure(app: Sanic, environ: Mapping[str, str] | None = None) -> Sanic:
    """Sets the body size limit of ``app`` and installs the rate limit; returns ``app``."""
    app.config.REQUEST_MAX_SIZE = MAX_REQUEST_BYTES
    app.error_handler.add(PayloadTooLarge, payload_too_large)
    install(app, environ)
    return app


def apply() -> None:
    """Makes every app of ``rasa.core.run.configure_app`` limited (idempotent)."""
    import rasa.core.run

    original = rasa.core.run.configure_app
    if getattr(original, _APPLIED_MARK, False):
        return

    def configure_app(*args: Any, **kwargs: Any) -> Sanic:
        return configure(original(*args, **kwargs))

    setattr(configure_app, _APPLIED_MARK, True)
    rasa.core.run.configure_app = configure_app
