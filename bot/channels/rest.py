"""Rasa's REST channel with strict input handling (same URL: /webhooks/rest/webhook).

Rasa's own REST channel answers a non-JSON or non-object body with a 500, accepts any size and
logs the raw text of a failed message. This one answers bad requests with a precise 4xx,
bounds the message length, and masks secrets and card/ID numbers before the message reaches
the NLU, the tracker store or a log line.

Sender ids are namespaced (``rest:<sender>``, see :mod:`bot.channels.sessions`) and a
conversation is bound to the client that started it: its first reply carries the session token
in ``X-Posbot-Session``, and a later message without that token is refused with 403 before
anything is processed. Replies keep the sender id the client sent as ``recipient_id``.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any, Final

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from rasa.core.lock_store import LockError
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.body import BodyTooLarge, read_limited_body
from bot.channels.pages import agent_of, domain_text
from bot.channels.rate_limit import check_sender
from bot.channels.sessions import (
    REST,
    SESSION_HEADER,
    SessionTokens,
    conversation_exists,
    default_tokens,
    scoped_sender,
)
from bot.errors import TrackerStoreUnavailable
from bot.redaction import mask_sensitive

logger = logging.getLogger(__name__)

MAX_MESSAGE_CHARS: Final = 1000
MAX_BODY_BYTES: Final = 16 * 1024
MAX_SENDER_CHARS: Final = 128
UTTER_SERVICE_UNAVAILABLE: Final = "utter_service_unavailable"
DEGRADED_HEADER: Final = "X-Posbot-Degraded"
_CONTROL: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u2028-\u202e\ufeff]")
_SENDER: Final = re.compile(r"^[^\x00-\x1f\x7f/\\]{1,128}$")


def _error(status: int, message: str) -> HTTPResponse:
    return response.json({"error": message}, status=status)


def _unavailable(request: Request, sender: str, error: BaseException) -> HTTPResponse:
    """The polite reply when a backend failed (tracker store, lock store, model, actions).

    The turn was not recorded, so the user is asked to send the message again; the status stays
    200 so that chat clients show the text, and a header tells monitoring what happened.
    """
    kind = "lock" if isinstance(error, LockError) else error.__class__.__name__
    logger.error("REST message failed (%s); answered with utter_service_unavailable", kind)
    agent = agent_of(request)
    text = domain_text(agent, UTTER_SERVICE_UNAVAILABLE) or domain_text(agent, "utter_default")
    return response.json([{"recipient_id": sender, "text": text}], headers={DEGRADED_HEADER: kind})


def clean_text(text: str) -> str:
    """Removes lone surrogates, control and invisible formatting characters; trims."""
    text = text.encode("utf-8", "ignore").decode("utf-8")
    return _CONTROL.sub("", text).strip()


def _forbidden(message: str) -> HTTPResponse:
    logger.warning("REST message refused: %s", message)
    return _error(403, message)


class GuardedRestInput(RestInput):
    """REST channel that validates its input before the bot sees it."""

    def __init__(self, tokens: SessionTokens | None = None) -> None:
        self.tokens = tokens or default_tokens()

    @classmethod
    def name(cls) -> str:
        return REST

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> GuardedRestInput:
        return cls()

    async def _session_check(
        self, request: Request, sender: str, sender_id: str
    ) -> HTTPResponse | bool:
        """Whether a token must be issued (a new conversation), or the refusal to answer.

        A message with a token must carry the conversation's token; one without a token is
        only accepted when the conversation does not exist yet, so a token is never issued for
        someone else's conversation.
        """
        token = request.headers.get(SESSION_HEADER)
        if token is not None:
            if self.tokens.valid(sender_id, token):
                return False
            return _forbidden(f"wrong {SESSION_HEADER} token for this sender")
        try:
            exists = await conversation_exists(agent_of(request), sender_id)
        except (Exception, TrackerStoreUnavailable) as error:
            return _unavailable(request, sender, error)
        if exists:
            return _forbidden(
                f"this conversation was started by another client: send its {SESSION_HEADER} "
                "token, or start a new conversation with a new sender id"
            )
        return True

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint("posbot_rest_webhook", __name__)

        @webhook.get("/")
        async def health(_request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        # Streamed, so that an oversized body is refused before it is read into memory.
        @webhook.post("/webhook", stream=True)
        async def receive(request: Request) -> HTTPResponse:
            content_type = (request.headers.get("content-type") or "application/json").lower()
            if not content_type.startswith("application/json"):
                return _error(415, "Content-Type must be application/json")
            try:
                body = await read_limited_body(request, MAX_BODY_BYTES)
            except BodyTooLarge:
                return _error(413, f"body over {MAX_BODY_BYTES} bytes")
            try:
                payload = json.loads(body.decode("utf-8"))
            except UnicodeDecodeError:
                return _error(400, "body is not valid UTF-8")
            except ValueError:
                return _error(400, "body is not valid JSON")
            except RecursionError:
                return _error(400, "body is not valid JSON: nested too deeply")
            if not isinstance(payload, dict):
                return _error(400, 'expected a JSON object {"sender": ..., "message": ...}')
            sender = payload.get("sender")
            text = payload.get("message")
            metadata = payload.get("metadata")
            if not isinstance(sender, str) or not _SENDER.match(sender):
                return _error(400, f"sender: 1-{MAX_SENDER_CHARS} printable characters")
            if (limited := check_sender(request, sender)) is not None:
                return limited
            if not isinstance(text, str):
                return _error(400, "message: a string")
            if metadata is not None and not isinstance(metadata, dict):
                return _error(400, "metadata: an object")
            text = clean_text(text)
            if len(text) > MAX_MESSAGE_CHARS:
                return _error(413, f"message over {MAX_MESSAGE_CHARS} characters")
            sender_id = scoped_sender(REST, sender)
            check = await self._session_check(request, sender, sender_id)
            if isinstance(check, HTTPResponse):
                return check
            headers = {SESSION_HEADER: self.tokens.issue(sender_id)} if check else {}
            if not text:
                hint = domain_text(agent_of(request), "utter_empty_message")
                return response.json([{"recipient_id": sender, "text": hint}], headers=headers)
            collector = CollectingOutputChannel()
            try:
                await on_new_message(
                    UserMessage(
                        mask_sensitive(text),
                        collector,
                        sender_id,
                        input_channel=self.name(),
                        metadata=metadata,
                    )
                )
            except (Exception, TrackerStoreUnavailable) as error:
                return _unavailable(request, sender, error)
            replies = [{**message, "recipient_id": sender} for message in collector.messages]
            return response.json(replies, headers=headers)

        return webhook
