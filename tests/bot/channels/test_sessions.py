"""Session tokens with a routing hint (POSBOT_SESSION_ROUTE) bind a conversation as before."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from bot.channels.sessions import SessionTokens
from bot.settings import SettingError

SECRET = "s" * 32
SENDER = "rest:merchant-1"
MAC = hmac.new(SECRET.encode(), SENDER.encode(), hashlib.sha256).hexdigest()


def test_a_server_with_a_route_puts_it_before_the_hmac():
    assert SessionTokens(SECRET, "r2").issue(SENDER) == f"r2.{MAC}"
    assert SessionTokens(SECRET).issue(SENDER) == MAC  # no hint: the token as it was


def test_every_server_accepts_a_token_whichever_server_issued_it():
    servers = [SessionTokens(SECRET, "r1"), SessionTokens(SECRET, "r2"), SessionTokens(SECRET)]
    for issuer in servers:
        token = issuer.issue(SENDER)
        assert all(server.valid(SENDER, token) for server in servers)


@pytest.mark.parametrize(
    "token",
    [
        f"r1.{MAC[:-1]}0" if MAC[-1] != "0" else f"r1.{MAC[:-1]}1",  # the HMAC changed
        f"r1.{SessionTokens(SECRET).issue('rest:someone-else')}",  # another conversation's
        f"R1.{MAC}",  # hints are lower-case letters and digits
        f"r1 .{MAC}",
        f"{'r' * 17}.{MAC}",  # at most 16 characters
        f".{MAC}",  # an empty hint
        f"r1.r2.{MAC}",
        "r1.",
        "",
    ],
)
def test_a_wrong_hmac_or_a_malformed_hint_is_refused(token):
    assert not SessionTokens(SECRET, "r1").valid(SENDER, token)


def test_an_unusable_route_is_refused_at_start():
    with pytest.raises(ValueError, match="lower-case letters and digits"):
        SessionTokens(SECRET, "R1")
    with pytest.raises(SettingError, match="POSBOT_SESSION_ROUTE='r 1'"):
        SessionTokens.from_env({"POSBOT_SESSION_SECRET": SECRET, "POSBOT_SESSION_ROUTE": "r 1"})
    tokens = SessionTokens.from_env({"POSBOT_SESSION_SECRET": SECRET, "POSBOT_SESSION_ROUTE": "r3"})
    assert tokens.issue(SENDER) == f"r3.{MAC}"
