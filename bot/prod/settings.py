"""Ports, URLs and paths of the production profile, from arguments and the environment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from bot.settings import (
    DB_URL,
    DEFAULT_RATE_LIMIT,
    PRODUCTION_DB_URL,
    PRODUCTION_REDIS_URL,
    RATE_LIMIT,
    REDIS_URL,
    TRACKER_URL,
)

DEFAULT_PG_URL: Final = PRODUCTION_DB_URL
DEFAULT_REDIS_URL: Final = PRODUCTION_REDIS_URL
DEFAULT_BASE_PORT: Final = 8080
DEFAULT_STATE_DIR: Final = Path("var/prod")
DEFAULT_MODEL: Final = Path("models/posbot.tar.gz")
HOST: Final = "127.0.0.1"
REPLICAS: Final = 2
RASA_OFFSET: Final = 1
ACTIONS_LB_OFFSET: Final = 10
ACTIONS_OFFSET: Final = 11


@dataclass(frozen=True)
class ProdSettings:
    """Everything the profile needs to start; ports derive from ``base_port``.

    Ports: ``base_port`` is nginx's public port; the Rasa servers listen on base+1 and base+2,
    nginx's action-server balancer on base+10 and the action servers on base+11 and base+12.
    """

    base_port: int = DEFAULT_BASE_PORT
    state_dir: Path = DEFAULT_STATE_DIR
    model: Path = DEFAULT_MODEL
    case_db_url: str = DEFAULT_PG_URL
    tracker_db_url: str = DEFAULT_PG_URL
    redis_url: str = DEFAULT_REDIS_URL
    # Requests per client address (nginx and every Rasa server), e.g. "20/10s", or "off".
    rate_limit: str = DEFAULT_RATE_LIMIT

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, **overrides: object
    ) -> ProdSettings:
        """Settings from ``POSBOT_DB_URL``, ``POSBOT_TRACKER_URL``, ``POSBOT_REDIS_URL`` and
        ``POSBOT_RATE_LIMIT``."""
        case_db = DB_URL.read_or(DEFAULT_PG_URL, environ)
        values: dict[str, object] = {
            "case_db_url": case_db,
            "tracker_db_url": TRACKER_URL.read_or(case_db, environ),
            "redis_url": REDIS_URL.read_or(DEFAULT_REDIS_URL, environ),
            "rate_limit": RATE_LIMIT.raw(environ) or DEFAULT_RATE_LIMIT,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]

    @property
    def public_port(self) -> int:
        """nginx's public port (REST, widget, FAQ, copilot, agent desk, WeChat)."""
        return self.base_port

    @property
    def rasa_ports(self) -> tuple[int, ...]:
        """Ports of the Rasa servers."""
        return tuple(self.base_port + RASA_OFFSET + i for i in range(REPLICAS))

    @property
    def actions_lb_port(self) -> int:
        """nginx's port for the action servers (the Rasa servers' action endpoint)."""
        return self.base_port + ACTIONS_LB_OFFSET

    @property
    def actions_ports(self) -> tuple[int, ...]:
        """Ports of the action servers."""
        return tuple(self.base_port + ACTIONS_OFFSET + i for i in range(REPLICAS))

    @property
    def logs_dir(self) -> Path:
        """Log files of every process."""
        return self.state_dir / "logs"

    @property
    def endpoints_file(self) -> Path:
        """The generated endpoints file of the Rasa servers."""
        return self.state_dir / "endpoints.yml"

    @property
    def nginx_conf(self) -> Path:
        """The generated nginx configuration."""
        return self.state_dir / "nginx.conf"

    @property
    def pid_file(self) -> Path:
        """PID of the supervisor (``posbot prod stop`` signals it)."""
        return self.state_dir / "supervisor.pid"

    @property
    def state_file(self) -> Path:
        """JSON with the PIDs and ports of the running processes."""
        return self.state_dir / "processes.json"
