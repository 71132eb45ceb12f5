"""The load test's locust scenario against the running bot: every turn right, the cap holds."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.runtime import bot_environment
from load.journal import read_journal
from load.merchants import load_merchants
from load.scenario import CONVERSATION
from load.seed import seed_load_merchants
from tests.conftest import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.model]

USERS = 2
CAP = USERS * len(CONVERSATION)


def test_two_merchants_hold_full_conversations_and_the_request_cap_stops_the_run(
    running_bot, tmp_path
):
    bot, store = running_bot
    seed_load_merchants(store, load_merchants(USERS))
    journal = tmp_path / "journal.jsonl"
    command = [
        str(Path(sys.executable).with_name("locust")), "-f", "load/locustfile.py", "--headless",
        "--host", bot.url, "--users", str(USERS), "--spawn-rate", str(USERS),
        "--run-time", "120s", "--stop-timeout", "60", "--max-requests", str(CAP),
        "--think-time", "0", "--merchants", str(USERS), "--run-id", "e2e-load",
        "--journal", str(journal), "--only-summary", "--exit-code-on-error", "0",
    ]  # fmt: skip
    result = subprocess.run(
        command,
        cwd=ROOT,
        env={**bot_environment(), "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:]
    requests = read_journal(journal)
    assert [request.problem for request in requests if not request.ok] == []
    assert len(requests) == CAP  # the cap ended the run long before --run-time
    by_sender = {
        sender: [request.turn for request in requests if request.sender == sender]
        for sender in {request.sender for request in requests}
    }
    assert sorted(by_sender) == ["e2e-load-u0000-c001", "e2e-load-u0001-c001"]
    assert all(turns == [turn.name for turn in CONVERSATION] for turns in by_sender.values())


def test_locust_refuses_a_host_that_is_not_loopback(tmp_path):
    command = [
        str(Path(sys.executable).with_name("locust")), "-f", "load/locustfile.py", "--headless",
        "--host", "http://192.0.2.1:5005", "--users", "1", "--run-time", "1s",
        "--journal", str(tmp_path / "journal.jsonl"),
    ]  # fmt: skip
    result = subprocess.run(
        command,
        cwd=ROOT,
        env={**bot_environment(), "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "refusing to load 'http://192.0.2.1:5005'" in result.stdout + result.stderr
    assert not (tmp_path / "journal.jsonl").exists()
