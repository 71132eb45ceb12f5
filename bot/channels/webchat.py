"""The web chat widget: a page at /chat talking to the REST channel, and its embed snippet."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any, Final

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.outbox import current_outbox
from bot.channels.pages import STATIC_DIR, html_page, static_file
from bot.channels.shared_state import SharedStateUnavailable

logger = logging.getLogger(__name__)

SENDER_RE: Final = re.compile(r"^web-[0-9a-f]{24}$")


class WebChatInput(InputChannel):
    """Serves the widget; messages go through Rasa's REST channel on the same origin."""

    @classmethod
    def name(cls) -> str:
        return "chat"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> WebChatInput:
        return cls()

    def url_prefix(self) -> str:
        return "/chat"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        chat = Blueprint("posbot_chat", __name__)

        @chat.get("/")
        async def page(_request: Request) -> HTTPResponse:
            return html_page((STATIC_DIR / "chat.html").read_text(encoding="utf-8"))

        @chat.get("/static/<name>")
        async def asset(_request: Request, name: str) -> HTTPResponse:
            return static_file(name)

        @chat.get("/inbox")
        async def inbox(request: Request) -> HTTPResponse:
            sender = request.args.get("sender", "")
            if not SENDER_RE.match(sender):
                return response.json({"error": "sender: the widget's id"}, status=400)
            try:
                messages = await current_outbox().take(sender)
            except SharedStateUnavailable as error:
                # The messages stay queued; the widget polls again.
                logger.error("Widget inbox unavailable, answering no messages: %s", error)
                messages = []
            return response.json({"messages": messages})

        return chat
