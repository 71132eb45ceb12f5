"""Bearer tokens of hotline agents, configured by the operator."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from sanic.request import Request

from bot.settings import AGENT_TOKENS

logger = logging.getLogger(__name__)

AGENT_TOKENS_ENV: Final = AGENT_TOKENS.env
MIN_TOKEN_CHARS: Final = 16


def _entry_problem(agent_id: str, separator: str, token: str) -> str:
    """What is wrong with one stripped ``id:token`` entry (never the token itself), or ``""``."""
    if not separator:
        return "expected agent_id:token"
    if not agent_id:
        return "the agent id before ':' is empty"
    if len(token) < MIN_TOKEN_CHARS:
        return (
            f"the token of agent {agent_id!r} has {len(token)} characters without surrounding "
            f"whitespace; at least {MIN_TOKEN_CHARS} are required"
        )
    return ""


@dataclass(frozen=True)
class AgentTokens:
    """``agent_id -> token`` pairs from ``POSBOT_AGENT_TOKENS="alice:token1,bob:token2"``."""

    tokens: Mapping[str, str]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AgentTokens:
        """Parses the operator's configuration; malformed or short entries are skipped."""
        raw = AGENT_TOKENS.read(environ)
        tokens: dict[str, str] = {}
        for position, entry in enumerate(filter(None, (p.strip() for p in raw.split(","))), 1):
            agent_id, separator, token = (part.strip() for part in entry.partition(":"))
            # Whitespace around a token is never part of it: the length is that of the stripped
            # token, so "15 chars + spaces" is refused like 15 chars.
            problem = _entry_problem(agent_id, separator, token)
            if problem:
                logger.error("Ignoring entry %d of %s: %s", position, AGENT_TOKENS_ENV, problem)
                continue
            tokens[agent_id] = token
        return cls(tokens)

    def agent_for(self, request: Request) -> str | None:
        """The agent id of a request's bearer token, or ``None``."""
        header = request.headers.get("Authorization", "")
        scheme, _, presented = header.partition(" ")
        if scheme.lower() != "bearer" or not presented:
            return None
        for agent_id, token in self.tokens.items():
            if hmac.compare_digest(token.encode(), presented.strip().encode()):
                return agent_id
        return None
