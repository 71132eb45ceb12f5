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

from bot.channels.delivery import current_outbox
from bot.channels.documents import DocumentUploads
from bot.channels.pages import STATIC_DIR, chat_embed_origins, html_page, static_file
from bot.channels.sessions import (
    REST,
    SESSION_HEADER,
    SessionTokens,
    default_tokens,
    scoped_sender,
)
from bot.channels.state.errors import SharedStateUnavailable
from bot.clock import china_now
from bot.services.base import StoreUnavailable
from bot.services.documents import DocumentService
from bot.services.notifications import NotificationService

logger = logging.getLogger(__name__)

SENDER_RE: Final = re.compile(r"^web-[0-9a-f]{24}$")
#: Author of a status notification in the inbox (``posbot notify``).
NOTICE: Final = "notice"


class WebChatInput(InputChannel):
    """Serves the widget; messages go through Rasa's REST channel on the same origin."""

    def __init__(
        self,
        tokens: SessionTokens | None = None,
        embed_origins: str | None = None,
        notifications: NotificationService | None = None,
        documents: DocumentService | None = None,
    ) -> None:
        self.tokens = tokens or default_tokens()
        # The status notifications waiting in the case store (None: the inbox shows only the
        # agents' messages; the Rasa server builds the channel with them, from_credentials).
        self.notifications = notifications
        # Photos and PDFs for the verified merchant's case (bot.channels.documents).
        self.uploads = DocumentUploads(self.tokens, documents)
        # Only these origins may frame the widget (the embed snippet's iframe).
        self.embed_origins = embed_origins or chat_embed_origins()

    @classmethod
    def name(cls) -> str:
        return "chat"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> WebChatInput:
        return cls(notifications=NotificationService())

    def url_prefix(self) -> str:
        return "/chat"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        chat = Blueprint("posbot_chat", __name__)

        @chat.get("/")
        async def page(_request: Request) -> HTTPResponse:
            return html_page(
                (STATIC_DIR / "chat.html").read_text(encoding="utf-8"),
                frame_ancestors=self.embed_origins,
            )

        @chat.get("/static/<name>")
        async def asset(_request: Request, name: str) -> HTTPResponse:
            return static_file(name)

        # Streamed: the session token is checked before the body is read.
        @chat.post("/upload", stream=True)
        async def upload(request: Request) -> HTTPResponse:
            return await self.uploads.upload(request)

        @chat.get("/inbox")
        async def inbox(request: Request) -> HTTPResponse:
            sender = request.args.get("sender", "")
            if not SENDER_RE.match(sender):
                return response.json({"error": "sender: the widget's id"}, status=400)
            # The widget's conversation is a REST conversation: only its client may read it.
            sender_id = scoped_sender(REST, sender)
            if not self.tokens.valid(sender_id, request.headers.get(SESSION_HEADER) or ""):
                return response.json(
                    {"error": f"send the conversation's {SESSION_HEADER} token"}, status=403
                )
            try:
                messages = await current_outbox().take(sender_id)
            except SharedStateUnavailable as error:
                # The messages stay queued; the widget polls again.
                logger.error("Widget inbox unavailable, answering no messages: %s", error)
                messages = []
            messages += [{"text": text, "from": NOTICE} for text in await self._notices(sender_id)]
            return response.json({"messages": messages})

        return chat

    async def _notices(self, sender_id: str) -> list[str]:
        """The conversation's status notifications not shown yet (each returned once)."""
        if self.notifications is None:
            return []
        try:
            return await self.notifications.take_inbox(sender_id, china_now())
        except StoreUnavailable:
            return []  # they stay unseen; the widget polls again
