"""The load test only ever targets this machine's loopback address."""

from __future__ import annotations

from typing import Final
from urllib.parse import urlsplit

LOOPBACK_HOST: Final = "127.0.0.1"


def is_loopback(url: str) -> bool:
    """True when ``url`` is an http(s) URL on 127.0.0.1."""
    parts = urlsplit(url or "")
    try:
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and parts.hostname == LOOPBACK_HOST
