"""Bearer tokens of hotline agents, configured by the operator."""

from __future__ import annotations

import hmac
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from sanic.request import Request

logger = logging.getLogger(__name__)

AGENT_TOKENS_ENV: Final = "POSBOT_AGENT_TOKENS"
MIN_TOKEN_CHARS: Final = 16


@dataclass(frozen=True)
class AgentTokens:
    """``agent_id -> token`` pairs from ``POSBOT_AGENT_TOKENS="alice:token1,bob:token2"``."""

    tokens: Mapping[str, str]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AgentTokens:
        """Parses the operator's configuration; malformed or short entries are skipped."""
        raw = (os.environ if environ is None else environ).get(AGENT_TOKENS_ENV, "")
        tokens: dict[str, str] = {}
        for entry in filter(None, (part.strip() for part in raw.split(","))):
            agent_id, _, token = entry.partition(":")
            if not agent_id or len(token) < MIN_TOKEN_CHARS:
                logger.error("Ignoring an entry of %s: expected id:token (token >= %d chars)",
                             AGENT_TOKENS_ENV, MIN_TOKEN_CHARS)  # fmt: skip
                continue
            tokens[agent_id.strip()] = token.strip()
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
