"""Agent tokens read from the environment."""

from bot.channels.auth import AgentTokens


def test_agent_tokens_parse_and_skip_weak_entries():
    tokens = AgentTokens.from_env(
        {"POSBOT_AGENT_TOKENS": "alice:0123456789abcdef, bob:short, :0123456789abcdef"}
    )
    assert dict(tokens.tokens) == {"alice": "0123456789abcdef"}
    assert AgentTokens.from_env({}).tokens == {}
