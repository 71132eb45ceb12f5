"""Shared plumbing of the pages the bot serves: static assets, headers, domain texts."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.operator_facts import fill_operator_facts

STATIC_DIR: Final = Path(__file__).resolve().parent.parent / "web" / "static"
STATIC_TYPES: Final = {".js": "text/javascript", ".css": "text/css", ".html": "text/html"}
SECURITY_HEADERS: Final = {
    # Pages load only their own assets: no CDN, no inline script, no framing by other sites
    # except the embed snippet's iframe (frame-ancestors is left open for that page only).
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


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


def html_page(body: str, status: int = 200) -> HTTPResponse:
    """An HTML page with the security headers."""
    return response.html(body, status=status, headers=SECURITY_HEADERS)


def agent_of(request: Request) -> Any:
    """The Rasa agent of the running server (``None`` while the model is loading)."""
    return getattr(request.app.ctx, "agent", None)


def domain_text(agent: Any, name: str) -> str:
    """The first text variant of a domain response of the loaded model, operator facts filled.

    Pages and channels that show domain texts themselves (FAQ, copilot, the agent desk, the
    REST channel's degraded reply) go through here, so no ``{hotline}`` reaches a reader.
    """
    variants = agent.domain.responses.get(name) or [] if agent is not None else []
    for variant in variants:
        if variant.get("text"):
            return fill_operator_facts(str(variant["text"]))
    return ""


def json_body(request: Request) -> Any:
    """The request's JSON body, or ``None`` when it is missing or not JSON."""
    try:
        return request.json
    except Exception:
        return None
