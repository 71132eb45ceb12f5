"""Server secrets shared by the processes of a deployment, and how they are passed on.

``POSBOT_SESSION_SECRET`` signs the REST channel's session tokens (every Rasa server of a
deployment must know the same one); ``POSBOT_ACTIONS_SECRET`` is the shared secret the Rasa
servers send to the action servers. When a variable is unset, :func:`ensure_secret` generates
one into ``var/`` (mode 0600) on first start and reuses it afterwards.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any, Final

from bot.settings import ACTIONS_HOST, ACTIONS_SECRET, SESSION_SECRET

SESSION_SECRET_ENV: Final = SESSION_SECRET.env
ACTIONS_SECRET_ENV: Final = ACTIONS_SECRET.env
ACTIONS_HOST_ENV: Final = ACTIONS_HOST.env
DEFAULT_ACTIONS_HOST: Final = ACTIONS_HOST.default
SECRETS_DIR: Final = Path("var")
_SECRET_SETTINGS: Final = {SESSION_SECRET_ENV: SESSION_SECRET, ACTIONS_SECRET_ENV: ACTIONS_SECRET}
SECRET_FILES: Final = {
    SESSION_SECRET_ENV: "session_secret",
    ACTIONS_SECRET_ENV: "actions_secret",
}
#: The header carrying the actions secret from Rasa (``action_endpoint.headers``).
ACTIONS_AUTH_HEADER: Final = "Authorization"
ACTIONS_AUTH_SCHEME: Final = "Bearer"
MIN_SECRET_CHARS: Final = 16
_SECRET_BYTES: Final = 32


class SecretMissing(RuntimeError):
    """A required secret is neither configured nor generated."""


def _read_or_create(path: Path) -> str:
    """The secret stored at ``path``, generated (mode 0600, created exclusively) if absent."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip()
    value = secrets.token_urlsafe(_SECRET_BYTES)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(value + "\n")
    return value


def ensure_secret(
    name: str, environ: MutableMapping[str, str], directory: Path = SECRETS_DIR
) -> str:
    """The secret ``name`` from ``environ``, else from (or generated into) ``directory``.

    The value is also written back into ``environ`` so child processes inherit it.

    Raises:
        SecretMissing: the configured or stored value is shorter than 16 characters.
    """
    value = _SECRET_SETTINGS[name].read(environ)
    if not value:
        value = _read_or_create(directory / SECRET_FILES[name])
    if len(value) < MIN_SECRET_CHARS:
        raise SecretMissing(f"{name} must be at least {MIN_SECRET_CHARS} characters")
    environ[name] = value
    return value


def ensure_server_secrets(environ: MutableMapping[str, str], directory: Path = SECRETS_DIR) -> None:
    """Both secrets in ``environ`` (configured, stored or generated)."""
    for name in SECRET_FILES:
        ensure_secret(name, environ, directory)


def actions_authorization(secret: str) -> str:
    """The value of :data:`ACTIONS_AUTH_HEADER` that Rasa sends to the action server."""
    return f"{ACTIONS_AUTH_SCHEME} {secret}"


def action_endpoint(url: str, secret: str) -> dict[str, Any]:
    """The ``action_endpoint`` section of an endpoints file: ``url`` plus the secret header."""
    return {"url": url, "headers": {ACTIONS_AUTH_HEADER: actions_authorization(secret)}}


def actions_host(environ: MutableMapping[str, str] | None = None) -> str:
    """Where the action server listens: ``POSBOT_ACTIONS_HOST``, loopback by default."""
    return ACTIONS_HOST.read(environ)
