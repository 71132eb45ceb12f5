"""Documents in the chat: the widget's upload (``POST /documents/upload``), the replies every
channel gives for a received file, and the agents' list and download.

An upload belongs to a REST conversation (``?sender=`` and its ``X-Posbot-Session`` token,
both checked before a byte of the body is read) whose merchant is verified: the verified
merchant's open case gets the file. Whatever goes wrong is a 4xx with a Chinese message for the
merchant (``messages``, shaped like the REST channel's replies) and a precise ``error`` for the
operator; nothing is kept then. Files are only ever served to an agent's bearer token, as
downloads (``Content-Disposition: attachment``, ``nosniff``, the checked type).
"""

from __future__ import annotations

import json
import logging
import re
from collections import defaultdict
from typing import Any, Final

from rasa.shared.core.events import BotUttered
from sanic import response
from sanic.request import Request, parse_multipart_form
from sanic.response import HTTPResponse

from bot.channels.auth import AgentTokens
from bot.channels.body import BodyTooLarge, read_limited_body
from bot.channels.pages import STATIC_DIR, agent_of, domain_text, html_page
from bot.channels.rate_limit import check_sender
from bot.channels.sessions import REST, SESSION_HEADER, SessionTokens, scoped_sender
from bot.clock import china_now
from bot.errors import TrackerStoreUnavailable
from bot.services.base import StoreUnavailable
from bot.services.documents import (
    DocumentLimitReached,
    DocumentRejected,
    DocumentService,
    NoOpenCase,
    Problem,
    Receipt,
)

logger = logging.getLogger(__name__)

FILE_FIELD: Final = "file"
CAPTION_FIELD: Final = "caption"
MAX_CAPTION_CHARS: Final = 100
# Room for the multipart framing around the file (boundaries, part headers, a caption).
MULTIPART_OVERHEAD_BYTES: Final = 16 * 1024
MAX_PARTS: Final = 4
SENDER_RE: Final = re.compile(r"^[^\x00-\x1f\x7f/\\]{1,128}$")
_BOUNDARY: Final = re.compile(r'boundary="?([0-9A-Za-z\'()+_,\-./:=? ]{1,70})"?', re.IGNORECASE)
_CASE_ID: Final = re.compile(r"^JC[0-9]{12}$")
VERIFIED: Final = "verified"
VERIFIED_MERCHANT_ID: Final = "verified_merchant_id"
CHOOSE_INTENT: Final = "choose_document_item"
ITEM_ENTITY: Final = "document_item"
#: Why a file was refused -> (HTTP status, the merchant's message).
PROBLEM_REPLIES: Final = {
    Problem.EMPTY: (400, "utter_document_empty"),
    Problem.TOO_LARGE: (413, "utter_document_too_large"),
    Problem.UNSUPPORTED: (415, "utter_document_unsupported"),
    Problem.DAMAGED: (422, "utter_document_damaged"),
    Problem.TOO_MANY_PIXELS: (422, "utter_document_too_many_pixels"),
    Problem.UNSAFE: (422, "utter_document_unsafe"),
}
UTTER_VERIFY_FIRST: Final = "utter_document_verify_first"
UTTER_NO_CASE: Final = "utter_document_no_case"
UTTER_LIMIT: Final = "utter_document_limit"
UTTER_BAD_UPLOAD: Final = "utter_document_bad_upload"
UTTER_STORE: Final = "utter_store_unavailable"
UTTER_FOR_ITEM: Final = "utter_document_received_for"
UTTER_SUPPLEMENT: Final = "utter_document_received_supplement"
UTTER_WHICH: Final = "utter_document_which_item"
UTTER_STILL_MISSING: Final = "utter_document_still_missing"
UTTER_ALL_IN: Final = "utter_document_all_received"


class _Blank(defaultdict):
    def __missing__(self, key: str) -> str:
        return "—"


def fill(agent: Any, name: str, **values: str) -> str:
    """A domain response with ``{placeholders}`` filled (unknown ones shown as —)."""
    return domain_text(agent, name).format_map(_Blank(str, values))


def choose_payload(item: str) -> str:
    """The button payload picking ``item`` for the waiting document."""
    return f"/{CHOOSE_INTENT}" + json.dumps({ITEM_ENTITY: item}, ensure_ascii=False)


def receipt_messages(agent: Any, receipt: Receipt) -> list[dict[str, Any]]:
    """What the bot says about a received (or re-assigned) document, from domain responses."""
    if receipt.missing_item is None:
        buttons = [{"title": item, "payload": choose_payload(item)} for item in receipt.choices]
        return [{"text": fill(agent, UTTER_WHICH, case_id=receipt.case_id), "buttons": buttons}]
    if receipt.missing_item:
        first = fill(agent, UTTER_FOR_ITEM, item=receipt.missing_item, case_id=receipt.case_id)
    else:
        first = fill(agent, UTTER_SUPPLEMENT, case_id=receipt.case_id)
    if receipt.still_missing:
        rest = fill(agent, UTTER_STILL_MISSING, missing="；".join(receipt.still_missing))
    else:
        rest = fill(agent, UTTER_ALL_IN)
    return [{"text": first}, {"text": rest}]


async def verified_merchant(agent: Any, sender_id: str) -> str | None:
    """The merchant verified in the conversation ``sender_id``, or ``None``.

    Raises:
        TrackerStoreUnavailable: the conversation store cannot be read.
    """
    store = getattr(agent, "tracker_store", None)
    tracker = await store.retrieve(sender_id) if store is not None else None
    if tracker is None or tracker.get_slot(VERIFIED) is not True:
        return None
    merchant_id = tracker.get_slot(VERIFIED_MERCHANT_ID)
    return merchant_id if isinstance(merchant_id, str) and merchant_id else None


async def take_document(
    agent: Any, service: DocumentService, sender_id: str, data: bytes, hint: str
) -> tuple[int, list[dict[str, Any]], str]:
    """Checks the conversation's merchant, then keeps and attaches the file.

    Returns:
        The HTTP status, the bot's messages and, when refused, the operator's reason.
    """
    try:
        merchant_id = await verified_merchant(agent, sender_id)
    except (Exception, TrackerStoreUnavailable) as error:
        logger.error("document upload: conversation store unavailable: %s", type(error).__name__)
        return 503, [{"text": domain_text(agent, UTTER_STORE)}], "conversation store unavailable"
    if merchant_id is None:
        return 403, [{"text": domain_text(agent, UTTER_VERIFY_FIRST)}], "merchant not verified"
    try:
        receipt = await service.receive(
            sender_id=sender_id, merchant_id=merchant_id, data=data, hint=hint, now=china_now()
        )
    except DocumentRejected as rejection:
        status, name = PROBLEM_REPLIES[rejection.problem]
        logger.warning("document refused: %s", rejection)
        return status, [{"text": domain_text(agent, name)}], f"file refused: {rejection}"
    except NoOpenCase:
        return 409, [{"text": domain_text(agent, UTTER_NO_CASE)}], "no open case"
    except DocumentLimitReached:
        return 429, [{"text": domain_text(agent, UTTER_LIMIT)}], "document limit reached"
    except StoreUnavailable as error:
        logger.error("document upload: case store unavailable: %s", error)
        return 503, [{"text": domain_text(agent, UTTER_STORE)}], "case store unavailable"
    logger.info("document #%d attached to %s", receipt.document_id, receipt.case_id)
    messages = receipt_messages(agent, receipt)
    await record_replies(agent, sender_id, messages)
    return 200, messages, ""


async def record_replies(agent: Any, sender_id: str, messages: list[dict[str, Any]]) -> None:
    """Adds the bot's answer about a file to the conversation: the agent desk shows it, and
    its buttons become payloads the merchant may press (``bot.payload_guard``)."""
    try:
        async with agent.lock_store.lock(sender_id):
            tracker = await agent.tracker_store.retrieve(sender_id)
            if tracker is None:
                return
            for message in messages:
                data = {"buttons": message["buttons"]} if message.get("buttons") else {}
                tracker.update(BotUttered(message.get("text"), data=data))
            await agent.tracker_store.save(tracker)
    except (Exception, TrackerStoreUnavailable) as error:
        # The file is attached already; only the buttons will not work (typing still does).
        logger.error("document replies not recorded in the conversation: %s", type(error).__name__)


def clean_hint(name: str) -> str:
    """The part of a file name or caption that may name the document (no path, no controls)."""
    base = re.split(r"[\\/]", name)[-1]
    return re.sub(r"[\x00-\x1f\x7f]", "", base)[:MAX_CAPTION_CHARS]


def _refusal(status: int, error: str, sender: str, messages: list[dict[str, Any]]) -> HTTPResponse:
    shown = [{**message, "recipient_id": sender} for message in messages]
    return response.json({"error": error, "messages": shown}, status=status, dumps=_json_dumps)


def _json_dumps(value: Any, **kwargs: Any) -> str:
    return json.dumps(value, ensure_ascii=False, **kwargs)


class DocumentUploads:
    """The widget's upload endpoint (mounted by the web chat channel)."""

    def __init__(self, tokens: SessionTokens, service: DocumentService | None = None) -> None:
        self.tokens = tokens
        self.service = service or DocumentService()

    async def upload(self, request: Request) -> HTTPResponse:
        """``POST …/upload?sender=<id>`` with ``X-Posbot-Session``, multipart ``file`` (and
        an optional ``caption``)."""
        agent = agent_of(request)
        sender = request.args.get("sender", "")
        if not SENDER_RE.match(sender):
            return _refusal(400, "sender: 1-128 printable characters", sender, [])
        sender_id = scoped_sender(REST, sender)
        if not self.tokens.valid(sender_id, request.headers.get(SESSION_HEADER) or ""):
            return _refusal(403, f"send the conversation's {SESSION_HEADER} token", sender, [])
        if (limited := check_sender(request, sender)) is not None:
            return limited
        if agent is None:
            return _refusal(503, "model loading", sender, [])
        bad = [{"text": domain_text(agent, UTTER_BAD_UPLOAD)}]
        content_type = request.headers.get("content-type", "")
        boundary = _BOUNDARY.search(content_type)
        if not content_type.lower().startswith("multipart/form-data") or boundary is None:
            return _refusal(415, "Content-Type must be multipart/form-data", sender, bad)
        limit = self.service.max_bytes + MULTIPART_OVERHEAD_BYTES
        try:
            body = await read_limited_body(request, limit)
        except BodyTooLarge:
            too_large = [{"text": domain_text(agent, "utter_document_too_large")}]
            return _refusal(413, f"body over {limit} bytes", sender, too_large)
        parsed = _parse(body, boundary.group(1).strip())
        if isinstance(parsed, str):
            return _refusal(400, parsed, sender, bad)
        data, hint = parsed
        status, messages, error = await take_document(agent, self.service, sender_id, data, hint)
        if status != 200:
            return _refusal(status, error, sender, messages)
        return response.json(
            [{**message, "recipient_id": sender} for message in messages], dumps=_json_dumps
        )


def _parse(body: bytes, boundary: str) -> tuple[bytes, str] | str:
    """The file's bytes and its hint (caption, else file name), or what is wrong."""
    # Sanic's parser splits on the bare boundary (each part then ends with "\r\n--").
    delimiter = boundary.encode("ascii", "replace")
    if body.count(delimiter) > MAX_PARTS + 1:
        return f"more than {MAX_PARTS} parts"
    try:
        fields, files = parse_multipart_form(body, delimiter)
    except Exception as error:  # Sanic's parser raises whatever the bytes provoke
        return f"malformed multipart body ({type(error).__name__})"
    uploads = dict.get(files, FILE_FIELD) or []
    if set(files) - {FILE_FIELD} or len(uploads) != 1:
        return f"expected exactly one file in the field {FILE_FIELD!r}"
    unknown = set(fields) - {CAPTION_FIELD}
    if unknown:
        return f"unknown fields: {', '.join(sorted(unknown))[:200]}"
    captions = dict.get(fields, CAPTION_FIELD) or [""]
    if len(captions) > 1 or len(captions[0]) > MAX_CAPTION_CHARS:
        return f"{CAPTION_FIELD}: one text of at most {MAX_CAPTION_CHARS} characters"
    upload = uploads[0]
    hint = clean_hint(captions[0].strip() or (upload.name or ""))
    return bytes(upload.body), hint


# --- the agents' side ---------------------------------------------------------------------


def _unauthorized() -> HTTPResponse:
    return response.json(
        {"error": "unauthorized"}, status=401, headers={"WWW-Authenticate": 'Bearer realm="agent"'}
    )


class AgentDocuments:
    """The agent desk's document list, download and page (bearer agent tokens)."""

    def __init__(self, tokens: AgentTokens, service: DocumentService | None = None) -> None:
        self.tokens = tokens
        self.service = service or DocumentService()

    async def page(self, _request: Request) -> HTTPResponse:
        """The agent desk page (it asks for the token; the data needs it)."""
        return html_page((STATIC_DIR / "desk.html").read_text(encoding="utf-8"))

    async def listing(self, request: Request) -> HTTPResponse:
        """``GET …/documents[?case_id=JC…]``: one case's documents, or the newest ones."""
        if self.tokens.agent_for(request) is None:
            return _unauthorized()
        case_id = request.args.get("case_id")
        if case_id is not None and not _CASE_ID.match(case_id):
            return response.json({"error": "case_id: JC and 12 digits"}, status=400)
        try:
            documents = await self.service.listed([case_id] if case_id else None)
        except StoreUnavailable as error:
            logger.error("agent desk: store unavailable: %s", error)
            return response.json({"error": "case store unavailable"}, status=503)
        return response.json({"documents": documents}, dumps=_json_dumps)

    async def download(self, request: Request, document_id: str) -> HTTPResponse:
        """``GET …/documents/<id>``: the file, as an attachment of its checked type."""
        if self.tokens.agent_for(request) is None:
            return _unauthorized()
        if not document_id.isascii() or not document_id.isdigit() or len(document_id) > 12:
            return response.json({"error": "document id: digits"}, status=400)
        try:
            found = await self.service.file(int(document_id))
        except StoreUnavailable as error:
            logger.error("agent desk: store unavailable: %s", error)
            return response.json({"error": "case store unavailable"}, status=503)
        if found is None:
            return response.json({"error": "no such document"}, status=404)
        return response.raw(
            found.data,
            content_type=found.mime,
            headers={
                "Content-Disposition": f'attachment; filename="{found.filename}"',
                "X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": "default-src 'none'; sandbox",
                "Cache-Control": "no-store",
            },
        )
