"""Shared plumbing of the pages the bot serves: static assets, headers, domain texts."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.services.content import content_cache
from bot.settings import CHAT_EMBED_ORIGINS

logger = logging.getLogger(__name__)

STATIC_DIR: Final = Path(__file__).resolve().parent.parent / "web" / "static"
STATIC_TYPES: Final = {".js": "text/javascript", ".css": "text/css", ".html": "text/html"}
CHAT_EMBED_ORIGINS_ENV: Final = CHAT_EMBED_ORIGINS.env
SELF: Final = "'self'"
NO_FRAMING: Final = "'none'"
_ORIGIN: Final = re.compile(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$")
SECURITY_HEADERS: Final = {
    # Pages load only their own assets: no CDN, no inline script.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def framing_headers(frame_ancestors: str = NO_FRAMING) -> dict[str, str]:
    """Headers allowing the page to be framed only by ``frame_ancestors`` (CSP syntax).

    ``X-Frame-Options`` (older browsers) can only say DENY or SAMEORIGIN; with other origins
    it is left out and CSP ``frame-ancestors`` decides.
    """
    headers = {"Content-Security-Policy": f"frame-ancestors {frame_ancestors}"}
    if frame_ancestors == NO_FRAMING:
        headers["X-Frame-Options"] = "DENY"
    elif frame_ancestors == SELF:
        headers["X-Frame-Options"] = "SAMEORIGIN"
    return headers


def chat_embed_origins(environ: Mapping[str, str] | None = None) -> str:
    """Who may frame the widget: ``POSBOT_CHAT_EMBED_ORIGINS`` (space-separated origins such
    as ``https://shop.example.com``, or ``'self'``), by default the bot's own origin only.

    Anything that is not an origin is left out (and logged), so the header cannot be bent.
    """
    allowed: list[str] = []
    for token in CHAT_EMBED_ORIGINS.read(environ).split():
        if token.strip("'\"").lower() == "self":
            allowed.append(SELF)
        elif _ORIGIN.match(token):
            allowed.append(token.rstrip("/"))
        else:
            logger.error("%s: ignoring %r (not an http(s) origin)", CHAT_EMBED_ORIGINS_ENV, token)
    return " ".join(dict.fromkeys(allowed)) or SELF


def static_file(name: str) -> HTTPResponse:
    """Serves one of our own assets by name (no paths, so no traversal)."""
    path = STATIC_DIR / name
    if "/" in name or "\\" in name or path.suffix not in STATIC_TYPES or not path.is_file():
        return response.text("not found", status=404)
    return response.text(
        path.read_text(encoding="utf-8"),
        content_type=f"{STATIC_TYPES[path.suffix]}; charset=utf-8",
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "public, max-age=300"},
    )


def html_page(body: str, status: int = 200, frame_ancestors: str = NO_FRAMING) -> HTTPResponse:
    """An HTML page with the security headers; framed only by ``frame_ancestors``."""
    framing = framing_headers(frame_ancestors)
    headers = {
        **SECURITY_HEADERS,
        **framing,
        "Content-Security-Policy": SECURITY_HEADERS["Content-Security-Policy"]
        + "; "
        + framing["Content-Security-Policy"],
    }
    return response.html(body, status=status, headers=headers)


def agent_of(request: Request) -> Any:
    """The Rasa agent of the running server (``None`` while the model is loading)."""
    return getattr(request.app.ctx, "agent", None)


def domain_text(agent: Any, name: str) -> str:
    """The live text of a response (the content store's, else the loaded model's domain),
    operator facts filled.

    Pages and channels that show domain texts themselves (FAQ, copilot, the agent desk, the
    REST channel's degraded reply) go through here, so no ``{hotline}`` reaches a reader and
    an operator's edit shows everywhere. It reads the process's cache as it is; a page handler
    that wants the latest edits awaits ``content_cache().current()`` first.
    """
    responses = agent.domain.responses if agent is not None else {}
    return content_cache().cached().text(responses, name)


def json_body(request: Request) -> Any:
    """The request's JSON body, or ``None`` when it is missing or not JSON."""
    try:
        return request.json
    except Exception:
        return None
