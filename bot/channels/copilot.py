"""The hotline agent copilot: POST /copilot/suggest and the agent page at /copilot."""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any, Final

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.auth import AgentTokens
from bot.channels.body import BodyTooLarge, read_json_body
from bot.channels.pages import STATIC_DIR, agent_of, domain_text, html_page, static_file
from bot.channels.state import factory
from bot.channels.state.call_context import CallContexts
from bot.channels.state.errors import SharedStateUnavailable
from bot.clock import china_now
from bot.faq import TOPIC_BY_INTENT
from bot.redaction import mask_pii
from bot.services.base import CaseStore, StoreUnavailable
from bot.services.copilot import CaseCardService
from bot.services.rejection import rejection_next_steps
from bot.text import find_secrets
from bot.workdays import format_chinese_date

logger = logging.getLogger(__name__)

MAX_TEXT_CHARS: Final = 2000
# A suggestion request is {"call_id", "text"}: 2000 characters of up to 4 UTF-8 bytes, escaped.
MAX_BODY_BYTES: Final = 16 * 1024
CALL_ID_RE: Final = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}$")
CASE_INTENTS: Final = frozenset(
    {"check_case_status", "urge_progress", "report_rejected", "ask_suspend_reason", "inform"}
)
SCAM_RE: Final = re.compile(
    r"(解冻|解封|解除|保证金|手续费|激活费|升级费|押金).{0,12}(交|付|转|打|费|钱)"
    r"|(验证码|密码).{0,8}(发给|告诉|提供|报给)"
    r"|(下载|点击|点开).{0,8}(链接|app)",
    re.IGNORECASE,
)
SMALL_TALK_REPLIES: Final = {
    "greet": "utter_greet",
    "thank": "utter_thank",
    "goodbye": "utter_goodbye",
    "request_human": "utter_contact",
    "out_of_scope": "utter_out_of_scope",
    "share_secret": "utter_secret_warning",
    "submit_application": "utter_unsuspend_process",
}


class _Blank(defaultdict):
    def __missing__(self, key: str) -> str:
        return "—"


def _fill(template: str, values: dict[str, Any]) -> str:
    return template.format_map(_Blank(str, values))


def suggested_reply(agent: Any, intent: str, card: dict[str, Any] | None) -> str:
    """A reply the agent can read out, from the bot's own responses."""
    case = card.get("case") if card else None
    if intent in CASE_INTENTS:
        if case is None:
            return domain_text(agent, "utter_copilot_ask_ids" if card is None else "utter_no_case")
        values = {
            **case,
            "submitted_on": _day(case["submitted_at"]),
            "updated_on": _day(case["updated_at"]),
            "missing_documents": "；".join(case["missing_documents"]) or "—",
            "window_start": _day(case["window_start"]),
            "window_end": _day(case["window_end"]),
        }
        text = _fill(domain_text(agent, f"utter_case_status_{case['status']}"), values)
        if case["window_start"] and case["status"] in ("submitted", "under_review"):
            text += "\n" + _fill(domain_text(agent, "utter_case_window"), values)
        return text
    topic = TOPIC_BY_INTENT.get(intent)
    if topic is not None:
        return domain_text(agent, topic.responses[0])
    return domain_text(agent, SMALL_TALK_REPLIES.get(intent, "utter_default"))


def _day(iso: str | None) -> str:
    return format_chinese_date(date.fromisoformat(iso[:10])) if iso else "—"


def next_steps(agent: Any, intent: str, card: dict[str, Any] | None) -> list[str]:
    """What the agent should do next."""
    names: list[str] = []
    case = card.get("case") if card else None
    if intent == "report_fraud":
        names.append("utter_copilot_step_fraud")
    if intent in CASE_INTENTS and card is None:
        names.append("utter_copilot_step_identify")
    if card is not None and case is None:
        names.append("utter_copilot_step_apply")
    if case is not None:
        if case["overdue"]:
            names.append("utter_copilot_step_escalate")
        if case["status"] == "needs_documents":
            names.append("utter_copilot_step_documents")
        if case["status"] == "rejected":
            names.append(rejection_next_steps(case["rejection_reason"] or ""))
        if case["status"] == "approved":
            names.append("utter_copilot_step_after")
    return [text for text in (domain_text(agent, n) for n in names) if text]


class CopilotInput(InputChannel):
    """Agent-authenticated NLU, case look-up and suggestions during a call."""

    def __init__(
        self,
        tokens: AgentTokens | None = None,
        store: CaseStore | None = None,
        calls: CallContexts | None = None,
    ) -> None:
        self.tokens = tokens or AgentTokens.from_env()
        # Shared through Redis when POSBOT_REDIS_URL is set (several Rasa server processes).
        self.calls = calls or factory.call_contexts()
        self.cards = CaseCardService(store)

    @classmethod
    def name(cls) -> str:
        return "copilot"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> CopilotInput:
        return cls()

    def url_prefix(self) -> str:
        return "/copilot"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        copilot = Blueprint("posbot_copilot", __name__)

        @copilot.get("/")
        async def page(_request: Request) -> HTTPResponse:
            return html_page((STATIC_DIR / "copilot.html").read_text(encoding="utf-8"))

        @copilot.get("/static/<name>")
        async def asset(_request: Request, name: str) -> HTTPResponse:
            return static_file(name)

        # Streamed: the bearer token is checked before a byte of the body is read.
        @copilot.post("/suggest", stream=True)
        async def suggest(request: Request) -> HTTPResponse:
            agent_id = self.tokens.agent_for(request)
            if agent_id is None:
                return response.json(
                    {"error": "unauthorized"},
                    status=401,
                    headers={"WWW-Authenticate": 'Bearer realm="copilot"'},
                )
            try:
                body = await read_json_body(request, MAX_BODY_BYTES)
            except BodyTooLarge:
                return response.json({"error": f"body over {MAX_BODY_BYTES} bytes"}, 413)
            call_id = body.get("call_id") if isinstance(body, dict) else None
            text = body.get("text") if isinstance(body, dict) else None
            if not isinstance(call_id, str) or not CALL_ID_RE.match(call_id):
                return response.json({"error": "call_id: 1-64 letters, digits, _.:-"}, 400)
            if not isinstance(text, str) or not text.strip():
                return response.json({"error": "text: what the caller said"}, status=400)
            if len(text) > MAX_TEXT_CHARS:
                return response.json({"error": f"text over {MAX_TEXT_CHARS} chars"}, 413)
            agent = agent_of(request)
            if agent is None or not agent.is_ready():
                return response.json({"error": "model loading"}, status=503)
            parsed = await agent.parse_message(text.strip())
            intent = (parsed.get("intent") or {}).get("name") or "nlu_fallback"
            entities = [
                {"entity": e["entity"], "value": e["value"]} for e in parsed.get("entities") or []
            ]
            try:
                context = await self.calls.add_turn(call_id, agent_id, mask_pii(text), entities)
            except SharedStateUnavailable as error:
                logger.error("copilot call context unavailable: %s", error)
                return response.json({"error": "call context unavailable"}, status=503)
            warnings = []
            if find_secrets(text):
                warnings.append(domain_text(agent, "utter_copilot_warn_secret"))
            if intent == "report_fraud" or SCAM_RE.search(text):
                warnings.append(domain_text(agent, "utter_copilot_warn_scam"))
            card = None
            if context.ids:
                try:
                    card = await self.cards.card(
                        ids=dict(context.ids), agent_id=agent_id, call_id=call_id, now=china_now()
                    )
                except StoreUnavailable as error:
                    logger.error("copilot case look-up failed: %s", error)
                    warnings.append(domain_text(agent, "utter_copilot_warn_store"))
            ranking = [i for i in parsed.get("intent_ranking") or [] if i["name"] != "nlu_fallback"]
            top_intent = ranking[0]["name"] if ranking else intent
            return response.json(
                {
                    "call_id": call_id,
                    "turn": len(context.turns),
                    "intents": [
                        {"name": i["name"], "confidence": round(float(i["confidence"]), 4)}
                        for i in ranking[:3]
                    ],
                    "entities": [e for e in entities if e["entity"] != "phone_number"]
                    + [
                        {"entity": "phone_number", "value": mask_pii(e["value"])}
                        for e in entities
                        if e["entity"] == "phone_number"
                    ],
                    "known_ids": context.ids,
                    "suggested_reply": suggested_reply(
                        agent, ranking[0]["name"] if ranking else intent, card
                    ),
                    "case": card,
                    "next_steps": next_steps(agent, top_intent, card),
                    "warnings": warnings,
                    "transcript": context.turns[-20:],
                }
            )

        return copilot
