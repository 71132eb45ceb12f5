"""Item 11: an agent token's minimum length is that of the token without surrounding spaces."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from bot.channels.auth import AGENT_TOKENS_ENV, MIN_TOKEN_CHARS, AgentTokens

FIFTEEN = "a1b2c3d4e5f6g7h"
SIXTEEN = FIFTEEN + "i"


@pytest.mark.parametrize(
    "entry",
    [
        f"alice:   {FIFTEEN}",
        f"alice:{FIFTEEN}\t",
        f"alice: \t {FIFTEEN}  ,",
        f"  alice :  {FIFTEEN}",
    ],
)
def test_a_short_token_padded_with_spaces_is_refused(
    entry: str, caplog: pytest.LogCaptureFixture
) -> None:
    assert len(FIFTEEN) == MIN_TOKEN_CHARS - 1
    with caplog.at_level(logging.ERROR, logger="bot.channels.auth"):
        tokens = AgentTokens.from_env({AGENT_TOKENS_ENV: entry})

    assert tokens.tokens == {}
    assert caplog.messages == [
        f"Ignoring entry 1 of {AGENT_TOKENS_ENV}: the token of agent 'alice' has 15 characters "
        f"without surrounding whitespace; at least {MIN_TOKEN_CHARS} are required"
    ]
    assert FIFTEEN not in caplog.text


def test_a_long_enough_token_is_kept_stripped() -> None:
    tokens = AgentTokens.from_env({AGENT_TOKENS_ENV: f" alice :  {SIXTEEN} ,bob:{FIFTEEN}"})

    assert tokens.tokens == {"alice": SIXTEEN}


@pytest.mark.parametrize(
    ("entry", "problem"),
    [(SIXTEEN, "expected agent_id:token"), (f" :{SIXTEEN}", "the agent id before ':' is empty")],
)
def test_malformed_entries_get_a_precise_error(
    entry: str, problem: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="bot.channels.auth"):
        tokens = AgentTokens.from_env({AGENT_TOKENS_ENV: f"alice:{SIXTEEN},{entry}"})

    assert tokens.tokens == {"alice": SIXTEEN}
    assert caplog.messages == [f"Ignoring entry 2 of {AGENT_TOKENS_ENV}: {problem}"]


def test_operator_and_agent_tokens_are_separate_roles() -> None:
    from types import SimpleNamespace

    from bot.channels.auth import OPERATOR_TOKENS_ENV, OperatorTokens

    agent_token, operator_token = "a" * 16, "o" * 16
    environ = {
        AGENT_TOKENS_ENV: f"alice:{agent_token}",
        OPERATOR_TOKENS_ENV: f"ops:{operator_token}",
    }
    agents, operators = AgentTokens.from_env(environ), OperatorTokens.from_env(environ)

    def request(token: str) -> Any:
        return SimpleNamespace(headers={"Authorization": f"Bearer {token}"})

    assert agents.agent_for(request(agent_token)) == "alice"
    assert operators.operator_for(request(operator_token)) == "ops"
    assert agents.agent_for(request(operator_token)) is None
    assert operators.operator_for(request(agent_token)) is None
