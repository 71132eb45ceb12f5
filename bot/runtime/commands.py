"""The command lines of the bot's processes and the tiers they belong to."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Final

ENDPOINTS_FILE: Final = Path("endpoints.yml")
CREDENTIALS_FILE: Final = Path("credentials.yml")
DEFAULT_MODEL: Final = Path("models/posbot.tar.gz")

# Tiers: what kind of process a command starts (the key of the per-tier command hook).
ACTIONS: Final = "actions"
RASA: Final = "rasa"
SHELL: Final = "shell"
NGINX: Final = "nginx"
SUPERVISOR: Final = "supervisor"
NOTIFY: Final = "notify"
TIERS: Final = (ACTIONS, RASA, SHELL, NGINX, SUPERVISOR, NOTIFY)


def action_server_command(port: int, extra: Sequence[str] = ()) -> list[str]:
    """The command line of the action server (rasa-sdk behind the actions secret)."""
    return [
        sys.executable, "-m", "bot.actions_server", "--actions", "actions", "--port", str(port),
        *extra,
    ]  # fmt: skip


def rasa_server_command(
    model: str | Path, port: int, endpoints: Path = ENDPOINTS_FILE, extra: Sequence[str] = ()
) -> list[str]:
    """The command line of the Rasa server with the REST channel (and :mod:`bot.speedups`)."""
    return [
        sys.executable, "-m", "bot.cli.rasa_server", "run", "--model", str(model),
        "--port", str(port), "--credentials", str(CREDENTIALS_FILE),
        "--endpoints", str(endpoints), *extra,
    ]  # fmt: skip


def rasa_shell_command(model: str | Path, endpoints: Path = ENDPOINTS_FILE) -> list[str]:
    """``rasa shell`` through the same launcher: chat in the terminal."""
    return [
        sys.executable, "-m", "bot.cli.rasa_server", "shell", "--model", str(model),
        "--endpoints", str(endpoints),
    ]  # fmt: skip


def prod_start_command(base_port: int, state_dir: Path, model: str | Path) -> list[str]:
    """``posbot prod start``: the supervisor of the production profile, in the foreground."""
    return [
        sys.executable, "-m", "bot.cli.main", "prod", "start", "--base-port", str(base_port),
        "--state-dir", str(state_dir), "--model", str(model),
    ]  # fmt: skip


def notify_command() -> list[str]:
    """``posbot notify``: the worker that sends status notifications (loop)."""
    return [sys.executable, "-m", "bot.cli.main", "notify"]
