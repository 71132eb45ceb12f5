"""Starts the action server and the Rasa server and talks to them over the REST channel."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.cli.serve import action_server_command, bot_environment, wait_until_ready
from bot.store.database import CaseStore
from bot.store.models import Case, Ticket
from bot.store.seed import seed_demo_data
from tests.conftest import ROOT

MODEL = ROOT / "models" / "posbot.tar.gz"
pytestmark = [pytest.mark.e2e, pytest.mark.model]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Bot:
    """A running bot reached over REST."""

    def __init__(self, url: str) -> None:
        self.url = url

    def say(self, sender: str, text: str) -> list[dict]:
        body = json.dumps({"sender": sender, "message": text}).encode("utf-8")
        request = urllib.request.Request(
            f"{self.url}/webhooks/rest/webhook",
            data=body,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read().decode("utf-8"))


@pytest.fixture(scope="module")
def running_bot(tmp_path_factory) -> Iterator[tuple[Bot, CaseStore]]:
    if not MODEL.exists():
        pytest.fail(f"no trained model at {MODEL}: run `make test` (it trains first)")
    workdir = tmp_path_factory.mktemp("e2e")
    store = CaseStore(f"sqlite:///{workdir / 'cases.db'}")
    store.create_schema()
    seed_demo_data(store)
    actions_port, rasa_port = _free_port(), _free_port()
    endpoints = workdir / "endpoints.yml"
    endpoints.write_text(
        f'action_endpoint:\n  url: "http://127.0.0.1:{actions_port}/webhook"\n', encoding="utf-8"
    )
    env = {**bot_environment(), "POSBOT_DB_URL": store.url}
    logs = (workdir / "actions.log").open("w"), (workdir / "rasa.log").open("w")
    actions = subprocess.Popen(
        action_server_command(actions_port), cwd=ROOT, env=env, stdout=logs[0], stderr=logs[0]
    )
    rasa_bin = str(Path(sys.executable).with_name("rasa"))
    rasa = subprocess.Popen(
        [rasa_bin, "run", "--model", str(MODEL), "--port", str(rasa_port),
         "--credentials", "credentials.yml", "--endpoints", str(endpoints)],
        cwd=ROOT, env=env, stdout=logs[1], stderr=logs[1],
    )  # fmt: skip
    try:
        assert wait_until_ready(f"http://127.0.0.1:{actions_port}/health", actions, 90)
        assert wait_until_ready(f"http://127.0.0.1:{rasa_port}/", rasa, 180), (
            workdir / "rasa.log"
        ).read_text()[-3000:]
        yield Bot(f"http://127.0.0.1:{rasa_port}"), store
    finally:
        for process in (rasa, actions):
            process.terminate()
        for process in (rasa, actions):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        for log in logs:
            log.close()
        store.dispose()


def texts(replies: list[dict]) -> str:
    return "\n".join(reply.get("text", "") for reply in replies)


def test_verification_then_case_status_from_the_database(running_bot):
    bot, store = running_bot
    with store.session() as session:
        case_id = session.execute(
            select(Case.case_id).where(Case.merchant_id == "898310058121234")
        ).scalar_one()
    sender = "e2e-status"
    assert "15位商户号" in texts(bot.say(sender, "查一下我的申请进度"))
    assert "后四位" in texts(bot.say(sender, "898310058121234"))
    reply = texts(bot.say(sender, "5678"))
    assert "身份验证通过" in reply
    assert f"申请单 {case_id}（终端 60013452）：审核中" in reply
    assert "预计在" in reply and "出结果" in reply
    assert "13812345678" not in reply


def test_wrong_digits_three_times_offer_a_human(running_bot):
    bot, _ = running_bot
    sender = "e2e-locked"
    bot.say(sender, "商户号898310058121234 查下进度")
    assert "不匹配" in texts(bot.say(sender, "0000"))
    assert "不匹配" in texts(bot.say(sender, "1111"))
    replies = bot.say(sender, "2222")
    assert "验证失败次数过多" in texts(replies)
    assert any(b["payload"] == "/request_human" for r in replies for b in r.get("buttons", []))


def test_faq_needs_no_verification_and_secrets_are_not_echoed(running_bot):
    bot, store = running_bot
    sender = "e2e-faq"
    assert "3-7 个工作日" in texts(bot.say(sender, "审核一般要多久啊"))
    reply = texts(bot.say(sender, "我的验证码是 839201"))
    assert "请不要发送密码" in reply and "839201" not in reply
    reply = texts(bot.say(sender, "转人工"))
    assert "工单号 TK" in reply
    with store.session() as session:
        ticket = session.execute(select(Ticket).where(Ticket.sender_id == sender)).scalar_one()
    assert "839201" not in ticket.summary
    assert os.environ.get("RASA_TELEMETRY_ENABLED") == "false"
