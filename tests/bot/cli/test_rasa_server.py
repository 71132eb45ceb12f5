"""The Rasa server launcher."""

from __future__ import annotations

import sys

import jieba

from bot.cli.rasa_server import keep_jieba_cache_in
from bot.runtime import rasa_server_command


def test_posbot_serve_starts_rasa_through_the_launcher():
    command = rasa_server_command("models/posbot.tar.gz", 5399)
    assert command[:4] == [sys.executable, "-m", "bot.cli.rasa_server", "run"]
    assert command[command.index("--port") + 1] == "5399"


def test_jieba_cache_goes_to_the_given_directory(tmp_path, monkeypatch):
    monkeypatch.setattr(jieba.dt, "tmp_dir", None)
    keep_jieba_cache_in(tmp_path / "cache")
    assert jieba.dt.tmp_dir == str(tmp_path / "cache")
    assert (tmp_path / "cache").is_dir()


def test_unwritable_cache_directory_keeps_jiebas_default(tmp_path, monkeypatch):
    monkeypatch.setattr(jieba.dt, "tmp_dir", None)
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    keep_jieba_cache_in(blocker / "cache")
    assert jieba.dt.tmp_dir is None
