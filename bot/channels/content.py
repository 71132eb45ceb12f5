"""``/ops/content``: operators edit reply texts and operator facts live (docs/content.md).

The page and its JSON API need an operator token (``POSBOT_OPERATOR_TOKENS``): no token or an
unknown one is a 401, an agent's token a 403. ``/ops/content/nlg`` answers Rasa's NLG
protocol (body ``{response, arguments, tracker: {slots}, channel: {name}}``, reply
``{text, buttons, …}``) from the same content, for other consumers; it takes an operator
token or the internal actions secret.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.auth import AgentTokens, OperatorTokens
from bot.channels.pages import (
    STATIC_DIR,
    agent_of,
    framing_headers,
    html_page,
    json_body,
    static_file,
)
from bot.nlg import ContentNLG
from bot.server_secrets import actions_authorization
from bot.services.base import CaseStore
from bot.services.content import (
    FACT,
    RESPONSE,
    ContentCache,
    ContentError,
    ContentService,
    StoreUnavailable,
    UnknownContent,
    edit_json,
)
from bot.settings import ACTIONS_SECRET

logger = logging.getLogger(__name__)

PAGE_FILE: Final = "content.html"
TEXT_KEY: Final = "text"
MAX_NAME_CHARS: Final = 120
KINDS_BY_PATH: Final = {"responses": RESPONSE, "facts": FACT}
REALM: Final = 'Bearer realm="operator"'


def _error(status: int, code: str, chinese: str, english: str) -> HTTPResponse:
    headers = {"WWW-Authenticate": REALM} if status == 401 else {}
    return response.json(
        {"error": code, "message": f"{chinese} {english}", "zh": chinese, "en": english},
        status=status,
        headers=headers,
    )


UNAUTHORIZED: Final = ("unauthorized", "请先粘贴运营令牌登录。", "An operator token is required.")
FORBIDDEN: Final = (
    "forbidden",
    "坐席令牌不能修改回复内容，请使用运营令牌。",
    "Agent tokens cannot edit content; use an operator token.",
)
NOT_READY: Final = ("model_loading", "助手正在启动，请稍后再试。", "The model is loading.")
STORE_DOWN: Final = (
    "store_unavailable",
    "内容库暂时不可用，未做任何修改，请稍后再试。",
    "The content store is unavailable; nothing was changed.",
)
NOT_FOUND: Final = ("not_found", "没有这条回复或这一项。", "No such reply or fact.")
BAD_BODY: Final = (
    "bad_body",
    '请求体应为 JSON：{"text": "新内容"}，只能修改文字（按钮等不可改）。',
    'Expected JSON {"text": "…"}; only the text can be edited (buttons cannot).',
)


def _mapping(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one (hostile NLG bodies)."""
    return value if isinstance(value, dict) else {}


class ContentInput(InputChannel):
    """Serves the operators' content page, its API and the HTTP NLG endpoint."""

    def __init__(
        self,
        tokens: OperatorTokens | None = None,
        agent_tokens: AgentTokens | None = None,
        store: CaseStore | None = None,
        cache: ContentCache | None = None,
    ) -> None:
        self.tokens = tokens or OperatorTokens.from_env()
        self.agent_tokens = agent_tokens or AgentTokens.from_env()
        self.store = store
        self.cache = cache
        self._nlg: dict[int, ContentNLG] = {}

    @classmethod
    def name(cls) -> str:
        return "ops_content"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> ContentInput:
        return cls()

    def url_prefix(self) -> str:
        return "/ops/content"

    def _denied(self, request: Request) -> HTTPResponse | None:
        """401 / 403 unless the request carries an operator token."""
        if self.tokens.operator_for(request) is not None:
            return None
        if self.agent_tokens.agent_for(request) is not None:
            return _error(403, *FORBIDDEN)
        return _error(401, *UNAUTHORIZED)

    def _operator(self, request: Request) -> str:
        return self.tokens.operator_for(request) or ""

    def _service(self, request: Request) -> ContentService | None:
        agent = agent_of(request)
        if agent is None or agent.domain is None:
            return None
        return ContentService(agent.domain.responses, store=self.store, cache=self.cache)

    def _generator(self, agent: Any) -> ContentNLG:
        nlg = self._nlg.get(id(agent.domain))
        if nlg is None:
            self._nlg = {
                id(agent.domain): (nlg := ContentNLG(domain=agent.domain, cache=self.cache))
            }
        return nlg

    def _internal(self, request: Request) -> bool:
        secret = ACTIONS_SECRET.read()
        presented = request.headers.get("Authorization", "")
        return bool(secret) and hmac.compare_digest(
            presented.encode(), actions_authorization(secret).encode()
        )

    def _serving(self, request: Request) -> ContentService | HTTPResponse:
        """The content service for an operator's request, or the refusal to send."""
        denied = self._denied(request)
        if denied is not None:
            return denied
        service = self._service(request)
        return _error(503, *NOT_READY) if service is None else service

    async def _read(
        self, request: Request, work: Callable[[ContentService], Awaitable[dict[str, Any]]]
    ) -> HTTPResponse:
        """Answers ``work``'s JSON to an operator (401/403/503 otherwise)."""
        service = self._serving(request)
        if isinstance(service, HTTPResponse):
            return service
        try:
            return response.json(await work(service))
        except StoreUnavailable:
            return _error(503, *STORE_DOWN)

    async def _change(
        self, request: Request, work: Callable[[ContentService, str], Awaitable[Any]]
    ) -> HTTPResponse:
        service = self._serving(request)
        if isinstance(service, HTTPResponse):
            return service
        try:
            edit = await work(service, self._operator(request))
        except UnknownContent:
            return _error(404, *NOT_FOUND)
        except ContentError as error:
            return _error(400, error.code, error.chinese, error.english)
        except StoreUnavailable:
            return _error(503, *STORE_DOWN)
        return response.json({"edit": edit_json(edit)})

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        content = Blueprint("posbot_ops_content", __name__)

        @content.middleware("response")
        async def no_framing(_request: Request, reply: HTTPResponse) -> None:
            # The page's own CSP (html_page) already forbids framing; the API gets it here.
            for name, value in framing_headers().items():
                reply.headers.setdefault(name, value)
            reply.headers.setdefault("Cache-Control", "no-store")

        @content.get("/")
        async def page(_request: Request) -> HTTPResponse:
            # The page itself holds no data: the API behind it asks for the token.
            return html_page((STATIC_DIR / PAGE_FILE).read_text(encoding="utf-8"))

        @content.get("/static/<name>")
        async def asset(_request: Request, name: str) -> HTTPResponse:
            return static_file(name)

        @content.get("/api/items")
        async def items(request: Request) -> HTTPResponse:
            async def work(service: ContentService) -> dict[str, Any]:
                return {"items": [item.as_json() for item in await service.items()]}

            return await self._read(request, work)

        @content.put("/api/<kind_path>/<name>")
        async def edit(request: Request, kind_path: str, name: str) -> HTTPResponse:
            body = json_body(request)
            kind = KINDS_BY_PATH.get(kind_path)

            async def work(service: ContentService, operator_id: str) -> Any:
                if kind is None or len(name) > MAX_NAME_CHARS:
                    raise UnknownContent(name)
                if not isinstance(body, dict) or set(body) != {TEXT_KEY}:
                    raise ContentError(*BAD_BODY)
                return await service.edit(kind, name, body[TEXT_KEY], operator_id)

            return await self._change(request, work)

        @content.delete("/api/<kind_path>/<name>")
        async def reset(request: Request, kind_path: str, name: str) -> HTTPResponse:
            kind = KINDS_BY_PATH.get(kind_path)

            async def work(service: ContentService, operator_id: str) -> Any:
                if kind is None or len(name) > MAX_NAME_CHARS:
                    raise UnknownContent(name)
                return await service.reset(kind, name, operator_id)

            return await self._change(request, work)

        @content.post("/api/edits/<edit_id:int>/revert")
        async def revert(request: Request, edit_id: int) -> HTTPResponse:
            async def work(service: ContentService, operator_id: str) -> Any:
                return await service.revert(edit_id, operator_id)

            return await self._change(request, work)

        @content.get("/api/history")
        async def history(request: Request) -> HTTPResponse:
            kind = KINDS_BY_PATH.get(request.args.get("kind", ""))
            name = (request.args.get("name") or "")[:MAX_NAME_CHARS] or None

            async def work(service: ContentService) -> dict[str, Any]:
                return {"edits": [edit_json(e) for e in await service.history(kind, name)]}

            return await self._read(request, work)

        @content.post("/nlg")
        async def nlg(request: Request) -> HTTPResponse:
            if not self._internal(request):
                denied = self._denied(request)
                if denied is not None:
                    return denied
            agent = agent_of(request)
            if agent is None or agent.domain is None:
                return _error(503, *NOT_READY)
            body = json_body(request)
            if not isinstance(body, dict) or not isinstance(body.get("response"), str):
                return response.json(
                    {"error": "bad_body", "message": "expected Rasa's NLG request body"},
                    status=400,
                )
            tracker = _mapping(body.get("tracker"))
            slots = _mapping(tracker.get("slots"))
            arguments = _mapping(body.get("arguments"))
            channel = _mapping(body.get("channel"))
            filled = await self._generator(agent).render(
                body["response"], slots, str(channel.get("name") or ""), arguments
            )
            if filled is None:
                return _error(404, *NOT_FOUND)
            return response.json(filled)

        return content
