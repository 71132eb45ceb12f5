"""Starts, watches and stops the processes of the production profile.

Each child gets SIGTERM when the supervisor dies (``PR_SET_PDEATHSIG``), so nothing is left
running even if the supervisor is killed; a child that exits on its own is restarted.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, TextIO

from bot.cli.serve import (
    action_server_command,
    bot_environment,
    rasa_server_command,
    wait_until_ready,
)
from bot.prod.config_files import nginx_command
from bot.prod.settings import HOST, ProdSettings

logger = logging.getLogger(__name__)

ACTIONS_READY_SECONDS: Final = 90
RASA_READY_SECONDS: Final = 240
NGINX_READY_SECONDS: Final = 10
STOP_GRACE_SECONDS: Final = 20
POLL_SECONDS: Final = 0.5
MAX_RESTART_DELAY_SECONDS: Final = 30.0
_PR_SET_PDEATHSIG: Final = 1


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the supervisor goes away."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Child:
    """One supervised process and how to start it again."""

    name: str
    command: list[str]
    health_url: str
    ready_seconds: float
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen | None = None
    restarts: int = 0
    next_restart: float = 0.0
    _log: TextIO | None = field(default=None, repr=False)

    def start(self) -> None:
        """Starts (or restarts) the process, appending to its log file."""
        if self._log is None:
            self._log = self.log_path.open("a", encoding="utf-8")
        self.process = subprocess.Popen(
            self.command,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )

    def running(self) -> bool:
        """Whether the process is alive."""
        return self.process is not None and self.process.poll() is None

    def wait_ready(self) -> bool:
        """Waits until the health URL answers 200."""
        assert self.process is not None
        return wait_until_ready(self.health_url, self.process, self.ready_seconds)

    def close_log(self) -> None:
        """Closes the log file."""
        if self._log is not None:
            self._log.close()
            self._log = None


def children(settings: ProdSettings) -> list[Child]:
    """The action servers, the Rasa servers and nginx, in start order."""
    env = bot_environment()
    env.update(
        {
            "POSBOT_DB_URL": settings.case_db_url,
            "POSBOT_TRACKER_URL": settings.tracker_db_url,
            "POSBOT_REDIS_URL": settings.redis_url,
            # The same limit as nginx's; behind nginx the client is its X-Forwarded-For.
            "POSBOT_RATE_LIMIT": settings.rate_limit,
            "POSBOT_TRUSTED_PROXIES": HOST,
            "SANIC_HOST": HOST,
            "PYTHONUNBUFFERED": "1",
        }
    )
    logs = settings.logs_dir
    result = [
        Child(
            name=f"actions-{i + 1}",
            # rasa-sdk behind the actions secret, on POSBOT_ACTIONS_HOST (loopback by default).
            command=action_server_command(p),
            health_url=f"http://{HOST}:{p}/health",
            ready_seconds=ACTIONS_READY_SECONDS,
            env=env,
            log_path=logs / f"actions-{i + 1}.log",
        )
        for i, p in enumerate(settings.actions_ports)
    ]

    def rasa_command(port: int) -> list[str]:
        # The same launcher as `posbot serve` (Rasa's CLI with bot.speedups), loopback only.
        command = rasa_server_command(str(settings.model), port, settings.endpoints_file)
        return [*command, "--interface", HOST]

    result += [
        Child(
            name=f"rasa-{i + 1}",
            command=rasa_command(p),
            health_url=f"http://{HOST}:{p}/",
            ready_seconds=RASA_READY_SECONDS,
            env=env,
            log_path=logs / f"rasa-{i + 1}.log",
        )
        for i, p in enumerate(settings.rasa_ports)
    ]
    result.append(
        Child(
            name="nginx",
            command=nginx_command(settings),
            health_url=f"http://{HOST}:{settings.public_port}/nginx-health",
            ready_seconds=NGINX_READY_SECONDS,
            env=env,
            log_path=logs / "nginx.log",
        )
    )
    return result


class Supervisor:
    """Runs the children until SIGTERM/SIGINT, restarting any that exits."""

    def __init__(self, settings: ProdSettings, processes: list[Child]) -> None:
        self.settings = settings
        self.children = processes
        self._stopping = False

    def start_all(self) -> None:
        """Starts every child group and waits until each answers its health check.

        Raises:
            RuntimeError: a process did not become ready (its log tells why).
        """
        groups = [
            [c for c in self.children if c.name.startswith(prefix)]
            for prefix in ("actions", "rasa", "nginx")
        ]
        for group in groups:
            for child in group:
                child.start()
            for child in group:
                if not child.wait_ready():
                    raise RuntimeError(f"{child.name} did not start; see {child.log_path}")
                assert child.process is not None  # started above
                print(f"  {child.name:10} ready  pid {child.process.pid}", flush=True)
            self.write_state()

    def write_state(self) -> None:
        """Writes the PIDs and URLs of the children (for ``status`` and the tests)."""
        state = {
            child.name: {
                "pid": child.process.pid if child.process else None,
                "health": child.health_url,
                "restarts": child.restarts,
            }
            for child in self.children
        }
        self.settings.state_file.write_text(json.dumps(state, indent=2), encoding="utf-8")

    def watch(self) -> None:
        """Restarts children that exit, with a growing delay, until asked to stop."""
        while not self._stopping:
            now = time.monotonic()
            changed = False
            for child in self.children:
                if child.running():
                    continue
                if child.next_restart == 0.0:
                    code = child.process.returncode if child.process else None
                    delay = min(2.0**child.restarts, MAX_RESTART_DELAY_SECONDS)
                    child.next_restart = now + delay
                    print(f"posbot prod: {child.name} exited ({code}); restart in {delay:.0f}s")
                elif now >= child.next_restart:
                    child.restarts += 1
                    child.next_restart = 0.0
                    child.start()
                    changed = True
            if changed:
                self.write_state()
            time.sleep(POLL_SECONDS)

    def request_stop(self) -> None:
        """Makes ``watch`` return."""
        self._stopping = True

    def stop_all(self) -> None:
        """SIGTERM to every child (nginx first), then SIGKILL after a grace period."""
        self._stopping = True
        for child in reversed(self.children):
            if child.process is not None and child.process.poll() is None:  # running()
                child.process.terminate()
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for child in reversed(self.children):
            if child.process is None:
                continue
            try:
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                print(f"posbot prod: {child.name} ignored SIGTERM; killing it", flush=True)
                child.process.kill()
                child.process.wait()
            child.close_log()
        for path in (self.settings.state_file, self.settings.pid_file):
            path.unlink(missing_ok=True)


def supervisor_pid(settings: ProdSettings) -> int | None:
    """The PID of a running supervisor for ``settings``, if any."""
    try:
        pid = int(settings.pid_file.read_text(encoding="utf-8").strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid
