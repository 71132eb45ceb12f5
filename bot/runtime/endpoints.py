"""The endpoints file a Rasa server starts with."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import yaml

from bot.runtime.commands import ENDPOINTS_FILE
from bot.server_secrets import ACTIONS_SECRET_ENV, action_endpoint

DEFAULT_ACTIONS_PORT: Final = 5055
GENERATED_DIR: Final = Path("var")
ACTION_ENDPOINT: Final = "action_endpoint"


def write_endpoints(
    target: Path,
    actions_port: int,
    secret: str,
    extra: Mapping[str, Any] | None = None,
    host: str = "127.0.0.1",
) -> Path:
    """An endpoints file (mode 0600: it holds the actions secret) for the action server on
    ``host:actions_port``, plus the sections in ``extra`` (tracker store, lock store, nlg)."""
    config = {
        ACTION_ENDPOINT: action_endpoint(f"http://{host}:{actions_port}/webhook", secret),
        **(extra or {}),
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    target.touch(mode=0o600, exist_ok=True)
    target.chmod(0o600)
    target.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return target


def default_sections(source: Path = ENDPOINTS_FILE) -> dict[str, Any]:
    """The sections of ``endpoints.yml`` besides the action endpoint (``make run``'s nlg and
    SQL tracker store)."""
    config = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    config.pop(ACTION_ENDPOINT, None)
    return config


def endpoints_for(
    actions_port: int,
    env: Mapping[str, str],
    source: Path = ENDPOINTS_FILE,
    sections: Mapping[str, Any] | None = None,
    target: Path | None = None,
) -> Path:
    """The endpoints file pointing at the action server on ``actions_port``.

    With no ``sections`` and no ``target``, the default port uses ``source`` as it is (Rasa
    reads the secret from the environment). Otherwise a generated file (``target``, by default
    ``var/endpoints.<port>.yml``) holds ``sections`` (by default those of ``source``).
    """
    if sections is None and target is None and actions_port == DEFAULT_ACTIONS_PORT:
        return source
    config = default_sections(source) if sections is None else dict(sections)
    target = target or GENERATED_DIR / f"endpoints.{actions_port}.yml"
    return write_endpoints(target, actions_port, env[ACTIONS_SECRET_ENV], config)
