"""The environment every process of the bot starts with."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Final

from bot.server_secrets import ensure_server_secrets

TELEMETRY_ENV: Final = "RASA_TELEMETRY_ENABLED"
# Merchants' data stays here: no telemetry, no crash reports to the vendor.
TELEMETRY_OFF: Final = "false"
DEFAULTS: Final[Mapping[str, str]] = {"SQLALCHEMY_SILENCE_UBER_WARNING": "1"}


def bot_environment(
    extra: Mapping[str, str] | None = None, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment of the child processes.

    ``base`` (default: this process's environment) plus ``extra``, with Rasa's telemetry off
    (``extra`` cannot switch it on), SQLAlchemy's 2.0 warnings silenced unless configured, and
    the session and actions secrets (configured, or generated into ``var/`` on first start).
    """
    env = dict(os.environ if base is None else base)
    for name, value in DEFAULTS.items():
        env.setdefault(name, value)
    env.update(extra or {})
    env[TELEMETRY_ENV] = TELEMETRY_OFF
    ensure_server_secrets(env)
    return env
