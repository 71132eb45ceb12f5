"""The notification worker runs beside the servers: `posbot serve` and the production profile."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from bot import runtime
from bot.cli.prod import _healthy
from bot.prod.settings import ProdSettings
from bot.prod.supervisor import children
from bot.settings import DB_URL


def test_the_production_profile_supervises_the_worker(tmp_path):
    settings = ProdSettings(base_port=5600, state_dir=tmp_path, model=Path("m.tar.gz"))
    worker = next(child for child in children(settings) if child.name == runtime.NOTIFY)
    assert worker.command == [sys.executable, "-m", "bot.cli.main", "notify"]
    assert worker.health_url == ""
    assert worker.spec.env[DB_URL.env] == settings.case_db_url


def test_a_process_without_a_health_url_is_healthy_while_it_runs():
    assert _healthy("", os.getpid())
    assert not _healthy("", None)
    assert not _healthy("", 2**22 + 12345)  # no such process


def test_the_worker_command_and_tier():
    assert runtime.notify_command()[-2:] == ["bot.cli.main", "notify"]
    assert runtime.NOTIFY in runtime.TIERS
