"""Locust scenario: merchants each holding a full conversation with the bot over REST.

Greet, ask why the terminal was suspended, verify (merchant id, then the phone's last four
digits), ask for the application status, thank. Each turn is a named request ("1 greet" …), so
locust's statistics are per turn, and it fails unless the replies are the expected ones
(:mod:`load.scenario`). Every request is also written to a JSON-lines journal, from which
``load.run`` computes the percentiles and checks that no message was lost or duplicated.

Bounded: locust's ``--users``, ``--spawn-rate`` and ``--run-time``, plus ``--max-requests``
(the run stops once no whole conversation fits in what is left). Only 127.0.0.1 is accepted as
``--host``. Run it through ``python -m load.run`` (``make load``), which starts the servers;
by hand: ``PYTHONPATH=. locust -f load/locustfile.py --headless --host http://127.0.0.1:5500``.
"""

from __future__ import annotations

import itertools
import json
import random
import time
from pathlib import Path
from typing import IO, Any

import gevent
from locust import FastHttpUser, constant, events, task
from locust.env import Environment

from load.budget import RequestBudget
from load.events import METADATA_KEY
from load.loopback import LOOPBACK_HOST, is_loopback
from load.merchants import MAX_MERCHANTS, LoadMerchant, load_merchant
from load.scenario import CONVERSATION, ReplyJudge, Turn, load_responses

WEBHOOK = "/webhooks/rest/webhook"
# The REST channel binds a conversation to its client: the first reply carries this token,
# every later message of the conversation sends it back.
SESSION_HEADER = "X-Posbot-Session"
IDLE_SECONDS = 0.5


class _Run:
    """State shared by the simulated merchants of one run (set up by ``on_init``)."""

    budget = RequestBudget(0)
    judge: ReplyJudge | None = None
    journal: IO[str] | None = None
    run_id = "load"
    merchants = 1
    think_time = 0.0
    seed = 0
    stopping = False
    user_numbers = itertools.count()


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    parser.add_argument("--max-requests", type=int, default=3000, help="total request cap")
    parser.add_argument("--journal", default="var/load/journal.jsonl", help="JSON-lines output")
    parser.add_argument("--run-id", default="load", help="prefix of the sender ids")
    parser.add_argument("--merchants", type=int, default=50, help="size of the merchant pool")
    parser.add_argument("--think-time", type=float, default=1.0, help="mean pause between turns")
    parser.add_argument("--seed", type=int, default=4, help="seed of the think-time jitter")


@events.init.add_listener
def _on_init(environment: Environment, **_kwargs: Any) -> None:
    options = environment.parsed_options
    if options is None:
        return
    if not is_loopback(environment.host or ""):
        raise SystemExit(f"refusing to load {environment.host!r}: only http://{LOOPBACK_HOST}")
    if not 1 <= options.merchants <= MAX_MERCHANTS:
        raise SystemExit(f"--merchants must be 1..{MAX_MERCHANTS}")
    _Run.budget = RequestBudget(options.max_requests)
    _Run.judge = ReplyJudge(load_responses())
    _Run.run_id = options.run_id
    _Run.merchants = options.merchants
    _Run.think_time = options.think_time
    _Run.seed = options.seed
    journal = Path(options.journal)
    journal.parent.mkdir(parents=True, exist_ok=True)
    _Run.journal = journal.open("w", encoding="utf-8")


@events.quitting.add_listener
def _on_quit(**_kwargs: Any) -> None:
    if _Run.journal is not None:
        _Run.journal.close()
        _Run.journal = None


def _stop_run(environment: Environment) -> None:
    """Stops the runner once (users finish their conversation within ``--stop-timeout``)."""
    if not _Run.stopping and environment.runner is not None:
        _Run.stopping = True
        gevent.spawn(environment.runner.quit)


class Merchant(FastHttpUser):
    """A merchant whose terminal was suspended, talking to the bot one conversation at a time."""

    wait_time = constant(0)
    connection_timeout = 5.0
    network_timeout = 60.0

    def on_start(self) -> None:
        number = next(_Run.user_numbers)
        self.merchant: LoadMerchant = load_merchant(number % _Run.merchants + 1)
        self.rng = random.Random(_Run.seed * 100_003 + number)
        self.user_number = number
        self.conversations = 0
        self.session_token = ""

    @task
    def conversation(self) -> None:
        """One full conversation under a new sender id."""
        if not _Run.budget.reserve(len(CONVERSATION)):
            _stop_run(self.environment)
            gevent.sleep(IDLE_SECONDS)  # stopped gracefully by the runner, like the others
            return
        self.conversations += 1
        sender = f"{_Run.run_id}-u{self.user_number:04d}-c{self.conversations:03d}"
        self.session_token = ""
        for sent, turn in enumerate(CONVERSATION):
            if sent:
                gevent.sleep(_Run.think_time * self.rng.uniform(0.5, 1.5))
            if not self._say(sender, sent + 1, turn):
                _Run.budget.release(len(CONVERSATION) - sent - 1)
                return

    def _say(self, sender: str, number: int, turn: Turn) -> bool:
        text = turn.text_for(self.merchant)
        message_id = f"{sender}-{number}"
        body = {"sender": sender, "message": text, "metadata": {METADATA_KEY: message_id}}
        started_at = time.time()
        started = time.perf_counter()
        # No redirects: a reply pointing elsewhere must not take the load off the loopback.
        headers = {SESSION_HEADER: self.session_token} if self.session_token else {}
        with self.client.post(
            WEBHOOK, json=body, name=turn.name, catch_response=True, allow_redirects=False,
            headers=headers,
        ) as reply:  # fmt: skip
            seconds = time.perf_counter() - started
            self.session_token = reply.headers.get(SESSION_HEADER) or self.session_token
            problem = self._problem(turn, reply)
            if problem:
                reply.failure(problem)
            else:
                reply.success()
        self._journal(
            sender=sender,
            merchant=self.merchant.merchant_id,
            turn=turn.name,
            message_id=message_id,
            message=text,
            status=reply.status_code,
            ok=problem is None,
            problem=problem,
            started_at=started_at,
            seconds=seconds,
        )
        return problem is None

    def _problem(self, turn: Turn, reply: Any) -> str | None:
        if reply.status_code != 200:
            return f"HTTP {reply.status_code}: {(reply.text or '')[:80]}"
        try:
            replies = reply.json()
        except ValueError:
            return "the reply is not JSON"
        if not isinstance(replies, list):
            return "the reply is not a list of messages"
        assert _Run.judge is not None
        return _Run.judge.problem(turn, self.merchant, replies)

    @staticmethod
    def _journal(**record: Any) -> None:
        if _Run.journal is not None:
            _Run.journal.write(json.dumps(record, ensure_ascii=False) + "\n")
            _Run.journal.flush()
