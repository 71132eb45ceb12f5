"""The operators' API for a case's status: ``POST /operator/cases/<case_id>/status``.

Bearer tokens of ``POSBOT_OPERATOR_TOKENS`` (the operators' role, not the agents'). The body is
``{"status": "needs_documents", "missing": ["营业执照"], "reason": null}``; the change is the
same as ``posbot case set-status`` (checked, recorded as a ``status_changed`` event naming the
operator), and the notification worker tells the merchant.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.auth import OPERATOR_TOKENS_ENV, OperatorTokens
from bot.channels.body import BodyTooLarge, read_json_body
from bot.clock import china_now
from bot.services.base import StoreUnavailable
from bot.services.case_status import CaseNotFound, CaseStatusService, StatusChangeError

logger = logging.getLogger(__name__)

MAX_BODY_BYTES: Final = 8192
MAX_MISSING_ITEMS: Final = 20


def _error(status: int, message: str) -> HTTPResponse:
    return response.json({"error": message}, status=status)


def _request_fields(body: Any) -> tuple[str, list[str], str | None] | str:
    """The status, missing documents and reason of a body, or what is wrong with it."""
    if not isinstance(body, dict):
        return "expected a JSON object"
    unknown = set(body) - {"status", "missing", "reason"}
    if unknown:
        return f"unknown fields: {', '.join(sorted(map(str, unknown)))}"
    status, missing, reason = body.get("status"), body.get("missing", []), body.get("reason")
    if not isinstance(status, str):
        return "status: expected a string"
    if missing is None:
        missing = []
    if not isinstance(missing, list) or not all(isinstance(item, str) for item in missing):
        return "missing: expected a list of strings"
    if len(missing) > MAX_MISSING_ITEMS:
        return f"missing: at most {MAX_MISSING_ITEMS} items"
    if reason is not None and not isinstance(reason, str):
        return "reason: expected a string or null"
    return status, missing, reason


class CaseStatusInput(InputChannel):
    """Registers the operators' status API on the Rasa server."""

    def __init__(
        self, tokens: OperatorTokens | None = None, service: CaseStatusService | None = None
    ) -> None:
        self.tokens = tokens or OperatorTokens.from_env()
        self.service = service or CaseStatusService()

    @classmethod
    def name(cls) -> str:
        return "operator"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> CaseStatusInput:
        return cls()

    def url_prefix(self) -> str:
        return "/operator"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        api = Blueprint("posbot_operator_case_status", __name__)

        @api.post("/cases/<case_id>/status", stream=True)
        async def set_status(request: Request, case_id: str) -> HTTPResponse:
            operator = self.tokens.operator_for(request)
            if operator is None:
                return _error(401, f"send an operator's bearer token ({OPERATOR_TOKENS_ENV})")
            try:
                body = await read_json_body(request, MAX_BODY_BYTES)
            except BodyTooLarge:
                return _error(413, f"body: at most {MAX_BODY_BYTES} bytes")
            fields = _request_fields(body)
            if isinstance(fields, str):
                return _error(400, fields)
            status, missing, reason = fields
            try:
                change = await self.service.set_status(
                    case_id=case_id[:64],
                    status=status,
                    missing=missing,
                    reason=reason,
                    now=china_now(),
                    operator=operator,
                )
            except CaseNotFound as error:
                return _error(404, str(error))
            except StatusChangeError as error:
                return _error(400, str(error))
            except StoreUnavailable:
                return _error(503, "case store unavailable; nothing changed")
            logger.info(
                "Operator %s set case %s: %s -> %s",
                operator,
                change.case_id,
                change.old_status,
                change.new_status,
            )
            return response.json(
                {
                    "case_id": change.case_id,
                    "old_status": change.old_status,
                    "new_status": change.new_status,
                    "changed": change.changed,
                }
            )

        return api
