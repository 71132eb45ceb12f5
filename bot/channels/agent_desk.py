"""Human handoff for agents: waiting conversations, masked history, reply, hand back, and the
messages and call-backs left outside the agents' hours (``GET /agent/after-hours``; ``POST
/agent/after-hours/<ticket_id>/done`` once handled)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Final

from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.lock_store import LockError
from rasa.shared.core.events import BotUttered, UserUttered
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.auth import AgentTokens
from bot.channels.body import BodyTooLarge, read_json_body
from bot.channels.delivery import deliver
from bot.channels.documents import AgentDocuments
from bot.channels.hand_back import AGENT_HANDED_BACK, hand_back_to_bot
from bot.channels.pages import (
    STATIC_DIR,
    agent_of,
    framing_headers,
    html_page,
    static_file,
)
from bot.channels.satisfaction import deliver_rating, rating_request
from bot.clock import china_now
from bot.errors import TrackerStoreUnavailable
from bot.redaction import mask_pii
from bot.services.base import CaseStore, StoreUnavailable
from bot.services.documents import DocumentService
from bot.services.handoff_hours import HandoffHoursService
from bot.services.handoffs import HandoffService
from bot.store.handoff_hours import ALREADY_CLOSED, NO_SUCH_TICKET

logger = logging.getLogger(__name__)

MAX_REPLY_CHARS: Final = 2000
HISTORY_LIMIT: Final = 100
# A reply is {"text": ...}: 2000 characters of up to 4 UTF-8 bytes, escaped.
MAX_BODY_BYTES: Final = 16 * 1024
#: Longer path segments are not ticket ids (``TICKET_ID_PREFIX`` + date + number).
MAX_TICKET_ID_CHARS: Final = 64


def _conversation_store_guard(
    handler: Callable[..., Awaitable[HTTPResponse]],
) -> Callable[..., Coroutine[Any, Any, HTTPResponse]]:
    """Answers 503 (not a dropped connection) when the tracker or lock store is down."""

    @functools.wraps(handler)
    async def guarded(request: Request, *args: Any, **kwargs: Any) -> HTTPResponse:
        try:
            return await handler(request, *args, **kwargs)
        except (LockError, TrackerStoreUnavailable) as error:
            logger.error("agent desk: conversation store unavailable: %s", type(error).__name__)
            return response.json({"error": "conversation store unavailable"}, status=503)

    return guarded


def _unauthorized() -> HTTPResponse:
    return response.json(
        {"error": "unauthorized"}, status=401, headers={"WWW-Authenticate": 'Bearer realm="agent"'}
    )


class AgentDeskInput(InputChannel):
    """Endpoints for authenticated agents to take over and hand back conversations."""

    def __init__(
        self,
        tokens: AgentTokens | None = None,
        store: CaseStore | None = None,
        documents: DocumentService | None = None,
    ) -> None:
        self.tokens = tokens or AgentTokens.from_env()
        self.handoffs = HandoffService(store)
        self.documents = AgentDocuments(self.tokens, documents or DocumentService(store))
        self.handoff_hours = HandoffHoursService(store)

    @classmethod
    def name(cls) -> str:
        return "agent"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> AgentDeskInput:
        return cls()

    def url_prefix(self) -> str:
        return "/agent"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        desk = Blueprint("posbot_agent_desk", __name__)

        @desk.middleware("response")
        async def no_framing(_request: Request, reply: HTTPResponse) -> None:
            # Agent data is never shown inside another site's frame (a page's own CSP already
            # says frame-ancestors 'none' and is kept whole).
            for name, value in framing_headers().items():
                reply.headers.setdefault(name, value)

        # Documents merchants sent (bot.channels.documents): the page, the list, the files.
        @desk.get("/desk")
        async def desk_page(request: Request) -> HTTPResponse:
            return await self.documents.page(request)

        @desk.get("/documents")
        async def documents(request: Request) -> HTTPResponse:
            return await self.documents.listing(request)

        @desk.get("/documents/<document_id>")
        async def document_file(request: Request, document_id: str) -> HTTPResponse:
            return await self.documents.download(request, document_id)

        async def _tracker(request: Request, sender_id: str) -> Any:
            agent = agent_of(request)
            if agent is None or not agent.is_ready():
                return None
            return await agent.tracker_store.retrieve(sender_id)

        @desk.get("/")
        async def page(_request: Request) -> HTTPResponse:
            # The page holds no data: it asks the APIs below with the agent's token.
            return html_page((STATIC_DIR / "desk.html").read_text(encoding="utf-8"))

        @desk.get("/static/<name>")
        async def asset(_request: Request, name: str) -> HTTPResponse:
            return static_file(name)

        @desk.get("/conversations")
        async def waiting(request: Request) -> HTTPResponse:
            if self.tokens.agent_for(request) is None:
                return _unauthorized()
            try:
                tickets = await self.handoffs.waiting()
            except StoreUnavailable as error:
                logger.error("agent desk: store unavailable: %s", error)
                return response.json({"error": "case store unavailable"}, status=503)
            return response.json({"conversations": tickets})

        @desk.get("/conversations/<sender_id>")
        @_conversation_store_guard
        async def history(request: Request, sender_id: str) -> HTTPResponse:
            if self.tokens.agent_for(request) is None:
                return _unauthorized()
            tracker = await _tracker(request, sender_id)
            if tracker is None:
                return response.json({"error": "no such conversation"}, status=404)
            turns = []
            for event in tracker.events:
                if isinstance(event, UserUttered) and event.text:
                    turns.append({"from": "user", "text": mask_pii(event.text)})
                elif isinstance(event, BotUttered) and event.text:
                    author = (event.metadata or {}).get("agent_id")
                    turns.append(
                        {"from": "agent" if author else "bot", "text": mask_pii(event.text)}
                    )
            return response.json(
                {
                    "sender_id": sender_id,
                    "paused": tracker.is_paused(),
                    "channel": tracker.get_latest_input_channel(),
                    "turns": turns[-HISTORY_LIMIT:],
                }
            )

        async def _append(request: Request, sender_id: str, events: list[Any]) -> Any:
            agent = agent_of(request)
            async with agent.lock_store.lock(sender_id):
                tracker = await agent.tracker_store.retrieve(sender_id)
                if tracker is None:
                    return None
                for event in events:
                    tracker.update(event)
                await agent.tracker_store.save(tracker)
                return tracker

        # Streamed (here and for release): the bearer token is checked before the body is read.
        @desk.post("/conversations/<sender_id>/reply", stream=True)
        @_conversation_store_guard
        async def reply(request: Request, sender_id: str) -> HTTPResponse:
            agent_id = self.tokens.agent_for(request)
            if agent_id is None:
                return _unauthorized()
            try:
                body = await read_json_body(request, MAX_BODY_BYTES)
            except BodyTooLarge:
                return response.json({"error": f"body over {MAX_BODY_BYTES} bytes"}, status=413)
            text = body.get("text") if isinstance(body, dict) else None
            if not isinstance(text, str) or not text.strip():
                return response.json({"error": 'expected JSON {"text": "..."}'}, status=400)
            if len(text) > MAX_REPLY_CHARS:
                return response.json({"error": "text too long"}, status=413)
            if agent_of(request) is None:
                return response.json({"error": "model loading"}, status=503)
            text = text.strip()
            tracker = await _append(
                request, sender_id, [BotUttered(text, metadata={"agent_id": agent_id})]
            )
            if tracker is None:
                return response.json({"error": "no such conversation"}, status=404)
            try:
                await self.handoff_hours.note_agent_reply(sender_id=sender_id, now=china_now())
            except StoreUnavailable as error:
                logger.error("agent desk: could not note the reply: %s", error)
            route = await deliver(tracker.get_latest_input_channel(), sender_id, text, "agent")
            return response.json({"delivered_via": route})

        @desk.post("/conversations/<sender_id>/release", stream=True)
        @_conversation_store_guard
        async def release(request: Request, sender_id: str) -> HTTPResponse:
            agent_id = self.tokens.agent_for(request)
            if agent_id is None:
                return _unauthorized()
            agent = agent_of(request)
            if agent is None:
                return response.json({"error": "model loading"}, status=503)
            if await _tracker(request, sender_id) is None:
                return response.json({"error": "no such conversation"}, status=404)
            async with agent.lock_store.lock(sender_id):
                tracker = await agent.tracker_store.retrieve(sender_id)
                if tracker is None:
                    return response.json({"error": "no such conversation"}, status=404)
                # The rating question is only for a conversation a human had (still paused).
                rating = rating_request(agent, agent_id, tracker)
                texts = hand_back_to_bot(tracker, agent, AGENT_HANDED_BACK)
                for event in rating:
                    tracker.update(event)
                await agent.tracker_store.save(tracker)
            try:
                closed = await self.handoff_hours.close_handed_back(
                    sender_id=sender_id, agent_id=agent_id, now=china_now()
                )
            except StoreUnavailable as error:
                logger.error("agent desk: could not close tickets: %s", error)
                closed = []
            for text in texts:
                await deliver(tracker.get_latest_input_channel(), sender_id, text, "bot")
            await deliver_rating(tracker.get_latest_input_channel(), sender_id, rating)
            return response.json({"resumed": True, "closed_tickets": closed})

        @desk.get("/after-hours")
        async def after_hours(request: Request) -> HTTPResponse:
            if self.tokens.agent_for(request) is None:
                return _unauthorized()
            try:
                requests = await self.handoff_hours.requests()
            except StoreUnavailable as error:
                logger.error("agent desk: store unavailable: %s", error)
                return response.json({"error": "case store unavailable"}, status=503)
            return response.json({"requests": requests})

        @desk.post("/after-hours/<ticket_id>/done", stream=True)
        async def after_hours_done(request: Request, ticket_id: str) -> HTTPResponse:
            agent_id = self.tokens.agent_for(request)
            if agent_id is None:
                return _unauthorized()
            if len(ticket_id) > MAX_TICKET_ID_CHARS:
                return response.json({"error": "no such after-hours request"}, status=404)
            try:
                outcome = await self.handoff_hours.complete_request(
                    ticket_id=ticket_id, agent_id=agent_id, now=china_now()
                )
            except StoreUnavailable as error:
                logger.error("agent desk: store unavailable: %s", error)
                return response.json({"error": "case store unavailable"}, status=503)
            if outcome == NO_SUCH_TICKET:
                return response.json({"error": "no such after-hours request"}, status=404)
            if outcome == ALREADY_CLOSED:
                return response.json({"error": "already done", "ticket_id": ticket_id}, 409)
            return response.json({"ticket_id": ticket_id, "done": True})

        return desk
