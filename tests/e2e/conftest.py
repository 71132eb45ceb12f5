"""A running bot (action server + Rasa server on free ports) with its own seeded store."""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Iterator

import pytest

from bot import runtime
from bot.channels.sessions import SESSION_HEADER
from bot.store.database import CaseStore
from bot.store.seed import seed_demo_data
from tests.conftest import ROOT

MODEL = ROOT / "models" / "posbot.tar.gz"
AGENT_TOKEN = "alice-token-0123456789"
E2E_HOTLINE = "4008-123-456"
E2E_SERVICE_HOURS = "每天 8:30-20:30"
AGENT_TOKENS = f"alice:{AGENT_TOKEN},bob:bob-token-9876543210"
E2E_RATE_LIMIT = "10000/10s"


class Bot:
    """A running bot reached over REST; keeps each conversation's session token."""

    def __init__(self, url: str, embed_port: int = 0) -> None:
        self.url = url
        self.tokens: dict[str, str] = {}
        # A second loopback origin allowed to frame the widget (POSBOT_CHAT_EMBED_ORIGINS).
        self.embed_port = embed_port

    def say(self, sender: str, text: str) -> list[dict]:
        body = json.dumps({"sender": sender, "message": text}).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        if sender in self.tokens:
            headers[SESSION_HEADER] = self.tokens[sender]
        request = urllib.request.Request(
            f"{self.url}/webhooks/rest/webhook", data=body, headers=headers
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            if response.headers.get(SESSION_HEADER):
                self.tokens[sender] = response.headers[SESSION_HEADER]
            return json.loads(response.read().decode("utf-8"))


@pytest.fixture(scope="session")
def running_bot(tmp_path_factory) -> Iterator[tuple[Bot, CaseStore]]:
    if not MODEL.exists():
        pytest.fail(f"no trained model at {MODEL}: run `make test` (it trains first)")
    workdir = tmp_path_factory.mktemp("e2e")
    store = CaseStore(f"sqlite:///{workdir / 'cases.db'}")
    store.create_schema()
    seed_demo_data(store)
    embed_port = runtime.free_port()
    env = {
        "POSBOT_DB_URL": store.url,
        "POSBOT_AGENT_TOKENS": AGENT_TOKENS,
        # Every test talks from 127.0.0.1: a limit far above what the suite sends.
        "POSBOT_RATE_LIMIT": E2E_RATE_LIMIT,
        "POSBOT_CHAT_EMBED_ORIGINS": f"'self' http://127.0.0.1:{embed_port}",
        # Operator facts from the environment only (not the checkout's operator.yml).
        "POSBOT_HOTLINE": E2E_HOTLINE,
        "POSBOT_SERVICE_HOURS": E2E_SERVICE_HOURS,
        "POSBOT_PROVIDER_NAME": "测试收单",
        "POSBOT_OPERATOR_FILE": os.devnull,
        # Documents sent in the chat stay in this run's folder.
        "POSBOT_DOCUMENTS_DIR": str(workdir / "documents"),
    }
    try:
        # The same launcher as `posbot serve` and the production profile (with bot.speedups);
        # in-memory trackers; replies from the content store (docs/content.md), as `make run`.
        with runtime.running_bot(
            MODEL, env=env, workdir=workdir, cwd=ROOT, rasa_ready_seconds=180,
            endpoints={"nlg": {"type": "bot.nlg.ContentNLG"}},
        ) as bot:  # fmt: skip
            yield Bot(bot.url, embed_port), store
    finally:
        store.dispose()
