"""The operators' console at ``/ops``: the dashboard page, its figures (JSON with SVG charts)
and one CSV export per figure, for holders of an operator token only.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.auth import AgentTokens, OperatorTokens
from bot.channels.charts import figure_svg
from bot.channels.pages import STATIC_DIR, framing_headers, html_page, static_file
from bot.services.base import StoreUnavailable
from bot.services.console import (
    FIGURES,
    ConsoleService,
    Period,
    PeriodError,
    figure_csv,
)

logger = logging.getLogger(__name__)

PAGE: Final = "ops.html"
SINCE: Final = "since"
UNTIL: Final = "until"
CSV_SUFFIX: Final = ".csv"
_REALM: Final = {"WWW-Authenticate": 'Bearer realm="operator"'}


def _error(message: str, status: int, headers: dict[str, str] | None = None) -> HTTPResponse:
    return response.json({"error": message}, status=status, headers=headers)


class OpsConsoleInput(InputChannel):
    """The operators' dashboard: figures per day and for a range, CSV exports."""

    def __init__(
        self,
        tokens: OperatorTokens | None = None,
        agents: AgentTokens | None = None,
        service: ConsoleService | None = None,
    ) -> None:
        self.tokens = tokens or OperatorTokens.from_env()
        self.agents = agents or AgentTokens.from_env()
        self.service = service or ConsoleService()

    @classmethod
    def name(cls) -> str:
        return "ops"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> OpsConsoleInput:
        return cls()

    def url_prefix(self) -> str:
        return "/ops"

    def _refusal(self, request: Request) -> HTTPResponse | None:
        """401 without a valid token, 403 for another role's token, else ``None``."""
        if self.tokens.operator_for(request) is not None:
            return None
        if self.agents.agent_for(request) is not None:
            return _error("an agent token does not open the operators' console", 403)
        return _error("unauthorized", 401, _REALM)

    def _period(self, request: Request) -> Period:
        since = request.args.get(SINCE)
        until = request.args.get(UNTIL)
        return Period.parse(since, until)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        ops = Blueprint("posbot_ops_console", __name__)

        @ops.middleware("response")
        async def no_framing(_request: Request, reply: HTTPResponse) -> None:
            # The page's own (stricter) policy, set by html_page, stays.
            for name, value in framing_headers().items():
                reply.headers.setdefault(name, value)

        @ops.get("/")
        async def page(_request: Request) -> HTTPResponse:
            return html_page((STATIC_DIR / PAGE).read_text(encoding="utf-8"))

        @ops.get("/static/<name>")
        async def asset(_request: Request, name: str) -> HTTPResponse:
            return static_file(name)

        async def _figures(request: Request, keys: list[str] | None) -> Any:
            refusal = self._refusal(request)
            if refusal is not None:
                return refusal, None
            try:
                period = self._period(request)
            except PeriodError as error:
                return _error(str(error), 400), None
            try:
                return None, (period, await self.service.figures(period, keys))
            except StoreUnavailable:
                return _error("database unavailable", 503), None

        @ops.get("/api/dashboard")
        async def dashboard(request: Request) -> HTTPResponse:
            refusal, computed = await _figures(request, None)
            if refusal is not None:
                return refusal
            period, figures = computed
            return response.json(
                {
                    "since": period.since.isoformat(),
                    "until": period.until.isoformat(),
                    "figures": [{**f.as_json(), "svg": figure_svg(f)} for f in figures],
                },
                headers={"Cache-Control": "no-store"},
            )

        @ops.get("/api/figures/<name>")
        async def export(request: Request, name: str) -> HTTPResponse:
            key = name.removesuffix(CSV_SUFFIX)
            refusal = self._refusal(request)
            if refusal is not None:
                return refusal
            if key not in FIGURES:
                return _error(f"no figure {key[:40]!r}; known: {', '.join(FIGURES)}", 404)
            refused, computed = await _figures(request, [key])
            if refused is not None:
                return refused
            period, (result,) = computed
            if not name.endswith(CSV_SUFFIX):
                return response.json(result.as_json(), headers={"Cache-Control": "no-store"})
            filename = f"{key}_{period.since.isoformat()}_{period.until.isoformat()}.csv"
            return response.text(
                figure_csv(result),
                content_type="text/csv; charset=utf-8",
                headers={
                    "Content-Disposition": f'attachment; filename="{filename}"',
                    "Cache-Control": "no-store",
                    "X-Content-Type-Options": "nosniff",
                },
            )

        return ops
