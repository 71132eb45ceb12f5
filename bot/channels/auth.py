"""Bearer tokens of hotline agents and of operators, configured by the operator.

Two separate roles: an agent token opens the agent desk and the copilot, an operator token
opens the operators' console (``/ops``). Neither opens the other's pages.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Final, TypeVar

from sanic.request import Request

from bot.settings import AGENT_TOKENS, OPERATOR_TOKENS, Setting

logger = logging.getLogger(__name__)

AGENT_TOKENS_ENV: Final = AGENT_TOKENS.env
OPERATOR_TOKENS_ENV: Final = OPERATOR_TOKENS.env
MIN_TOKEN_CHARS: Final = 16
_Tokens = TypeVar("_Tokens", bound="BearerTokens")


def _entry_problem(role: str, holder_id: str, separator: str, token: str) -> str:
    """What is wrong with one stripped ``id:token`` entry (never the token itself), or ``""``."""
    if not separator:
        return f"expected {role}_id:token"
    if not holder_id:
        return f"the {role} id before ':' is empty"
    if len(token) < MIN_TOKEN_CHARS:
        return (
            f"the token of {role} {holder_id!r} has {len(token)} characters without surrounding "
            f"whitespace; at least {MIN_TOKEN_CHARS} are required"
        )
    return ""


@dataclass(frozen=True)
class BearerTokens:
    """``holder_id -> token`` pairs of one role, from ``"alice:token1,bob:token2"``."""

    tokens: Mapping[str, str]
    #: The setting the tokens are read from, and the role named in the operator's log.
    setting: ClassVar[Setting[str]] = AGENT_TOKENS
    role: ClassVar[str] = "agent"

    @classmethod
    def from_env(cls: type[_Tokens], environ: Mapping[str, str] | None = None) -> _Tokens:
        """Parses the operator's configuration; malformed or short entries are skipped."""
        raw = cls.setting.read(environ)
        tokens: dict[str, str] = {}
        for position, entry in enumerate(filter(None, (p.strip() for p in raw.split(","))), 1):
            holder_id, separator, token = (part.strip() for part in entry.partition(":"))
            # Whitespace around a token is never part of it: the length is that of the stripped
            # token, so "15 chars + spaces" is refused like 15 chars.
            problem = _entry_problem(cls.role, holder_id, separator, token)
            if problem:
                logger.error("Ignoring entry %d of %s: %s", position, cls.setting.env, problem)
                continue
            tokens[holder_id] = token
        return cls(tokens)

    def holder_for(self, request: Request) -> str | None:
        """The id of the holder of a request's bearer token, or ``None``."""
        header = request.headers.get("Authorization", "")
        scheme, _, presented = header.partition(" ")
        if scheme.lower() != "bearer" or not presented:
            return None
        for holder_id, token in self.tokens.items():
            if hmac.compare_digest(token.encode(), presented.strip().encode()):
                return holder_id
        return None


@dataclass(frozen=True)
class AgentTokens(BearerTokens):
    """Hotline agents' tokens: ``POSBOT_AGENT_TOKENS="alice:token1,bob:token2"``."""

    setting: ClassVar[Setting[str]] = AGENT_TOKENS
    role: ClassVar[str] = "agent"

    def agent_for(self, request: Request) -> str | None:
        """The agent id of a request's bearer token, or ``None``."""
        return self.holder_for(request)


@dataclass(frozen=True)
class OperatorTokens(BearerTokens):
    """Operators' tokens (the console ``/ops``): ``POSBOT_OPERATOR_TOKENS="ops1:token"``."""

    setting: ClassVar[Setting[str]] = OPERATOR_TOKENS
    role: ClassVar[str] = "operator"

    def operator_for(self, request: Request) -> str | None:
        """The operator id of a request's bearer token, or ``None``."""
        return self.holder_for(request)
