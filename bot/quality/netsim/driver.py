"""The load generator host: senders back to back, each holding the load test's conversation.

The conversation and the judging of replies are the load test's own (:mod:`load.scenario`,
merchants of :mod:`load.merchants`); every turn goes to the journal format of
:mod:`load.journal`, so :func:`load.stats.run_stats` gives the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Final

import aiohttp

from bot.channels.sessions import SESSION_HEADER
from load.events import METADATA_KEY
from load.merchants import LoadMerchant, load_merchant
from load.scenario import CONVERSATION, ReplyJudge, load_responses

WEBHOOK: Final = "/webhooks/rest/webhook"
TIMEOUT_SECONDS: Final = 60


async def _conversation(
    session: aiohttp.ClientSession,
    url: str,
    sender: str,
    merchant: LoadMerchant,
    judge: ReplyJudge,
    journal: IO[str],
) -> None:
    token = ""
    for number, turn in enumerate(CONVERSATION, start=1):
        text = turn.text_for(merchant)
        message_id = f"{sender}-{number}"
        body = {"sender": sender, "message": text, "metadata": {METADATA_KEY: message_id}}
        headers = {SESSION_HEADER: token} if token else {}
        started_at = time.time()
        started = time.perf_counter()
        status, problem = 0, None
        try:
            async with session.post(url, json=body, headers=headers) as response:
                status = response.status
                token = response.headers.get(SESSION_HEADER) or token
                replies = await response.json(content_type=None)
            if status != 200:
                problem = f"HTTP {status}"
            elif not isinstance(replies, list):
                problem = "the reply is not a list of messages"
            else:
                problem = judge.problem(turn, merchant, replies)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
            problem = f"{type(error).__name__}: {error}"[:120]
        record = {
            "sender": sender, "turn": turn.name, "message_id": message_id, "message": text,
            "status": status, "ok": problem is None, "problem": problem,
            "started_at": started_at, "seconds": time.perf_counter() - started,
        }  # fmt: skip
        journal.write(json.dumps(record, ensure_ascii=False) + "\n")
        if problem is not None:
            return


async def run_load(
    base_url: str, senders: int, conversations: int, run_id: str, journal: IO[str]
) -> None:
    """``conversations`` per sender; sender ``i`` is load merchant ``i + 1``."""
    judge = ReplyJudge(load_responses())
    timeout = aiohttp.ClientTimeout(total=TIMEOUT_SECONDS)
    connector = aiohttp.TCPConnector(limit=senders)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:

        async def sender(index: int) -> None:
            merchant = load_merchant(index + 1)
            for number in range(conversations):
                name = f"{run_id}-s{index:02d}-c{number:03d}"
                await _conversation(session, base_url + WEBHOOK, name, merchant, judge, journal)

        await asyncio.gather(*(sender(i) for i in range(senders)))


def main(argv: Sequence[str] | None = None) -> int:
    """Command line (run inside the load generator's namespace)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--senders", type=int, required=True)
    parser.add_argument("--conversations", type=int, required=True)
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--journal", type=Path, required=True)
    args = parser.parse_args(argv)
    with args.journal.open("w", encoding="utf-8") as journal:
        asyncio.run(run_load(args.url, args.senders, args.conversations, args.run_id, journal))
    return 0


if __name__ == "__main__":
    sys.exit(main())
