"""The bench's load script against the running bot: every turn of every sender is right."""

from __future__ import annotations

import asyncio

import pytest

from load.bench.script import CONVERSATION, load
from load.merchants import load_merchants
from load.seed import seed_load_merchants

pytestmark = [pytest.mark.e2e, pytest.mark.model]

SENDERS = 2
REPEATS = 2


def test_two_senders_repeat_the_five_turn_conversation_without_an_error(running_bot):
    bot, store = running_bot
    merchants = load_merchants(SENDERS)
    seed_load_merchants(store, merchants)
    run = asyncio.run(load(f"{bot.url}/webhooks/rest/webhook", merchants, REPEATS, "e2e"))
    assert run.problems == []
    assert len(run.turns) == SENDERS * REPEATS * len(CONVERSATION)
    by_sender = {
        sender: [turn.number for turn in run.turns if turn.sender == sender]
        for sender in {turn.sender for turn in run.turns}
    }
    assert by_sender == {
        f"bench-e2e-{n}": list(range(1, REPEATS * len(CONVERSATION) + 1))
        for n in range(1, SENDERS + 1)
    }
    assert run.seconds > 0
