"""Starts, watches and stops the processes of the production profile.

Each child gets SIGTERM when the supervisor dies (``PR_SET_PDEATHSIG``), so nothing is left
running even if the supervisor is killed; a child that exits on its own is restarted. A child
that stops answering its health check while running (a hung event loop) is killed after
:data:`LIVENESS_FAILURES` checks in a row, and restarted like one that exited: nginx sends each
conversation to one Rasa server, so a hung one would otherwise keep its conversations waiting
until nginx's read timeout.
"""

from __future__ import annotations

import logging
import os
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, TextIO

from bot import runtime
from bot.json_values import write_json
from bot.prod.config_files import nginx_command, rasa_route
from bot.prod.settings import HOST, ProdSettings
from bot.settings import (
    DB_URL,
    RATE_LIMIT,
    REDIS_URL,
    SESSION_ROUTE,
    TRACKER_URL,
    TRUSTED_PROXIES,
)

logger = logging.getLogger(__name__)

ACTIONS_READY_SECONDS: Final = 90
RASA_READY_SECONDS: Final = 240
NGINX_READY_SECONDS: Final = 10
STOP_GRACE_SECONDS: Final = 20
POLL_SECONDS: Final = 0.5
MAX_RESTART_DELAY_SECONDS: Final = 30.0
#: Health checks of running children: one round every interval, each check waiting at most the
#: timeout; a child that answered once since it started and then misses this many checks in a
#: row is killed (about 20-40 s without an answer: far beyond a busy server's slowest turn).
LIVENESS_INTERVAL_SECONDS: Final = 5.0
LIVENESS_TIMEOUT_SECONDS: Final = 5.0
LIVENESS_FAILURES: Final = 4


def answers(url: str, timeout: float = LIVENESS_TIMEOUT_SECONDS) -> bool:
    """Whether ``url`` answers 200 within ``timeout`` seconds."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


@dataclass
class Child:
    """One supervised process (its spec, after the per-tier hook) and how to start it again."""

    spec: runtime.ProcessSpec
    log_path: Path
    process: subprocess.Popen | None = None
    restarts: int = 0
    next_restart: float = 0.0
    #: Whether the running process has answered its health check since it started, and how
    #: many checks it has missed in a row since.
    answered: bool = False
    missed: int = 0
    _log: TextIO | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        """``actions-1``, ``rasa-2``, ``nginx``…"""
        return self.spec.name

    @property
    def command(self) -> list[str]:
        """The command line the process starts with."""
        return list(self.spec.command)

    @property
    def health_url(self) -> str:
        """Answers 200 when the process is ready."""
        return self.spec.health_url or ""

    def start(self) -> None:
        """Starts (or restarts) the process, appending to its log file; it gets SIGTERM when
        the supervisor dies."""
        if self._log is None:
            self._log = self.log_path.open("a", encoding="utf-8")
        self.answered, self.missed = False, 0
        self.process = runtime.spawn(
            self.spec, self._log, with_parent=True, stdin=subprocess.DEVNULL
        )

    def running(self) -> bool:
        """Whether the process is alive."""
        return self.process is not None and self.process.poll() is None

    def wait_ready(self) -> bool:
        """Waits until the health URL answers 200 (a process without one: while it runs)."""
        assert self.process is not None
        if not self.health_url:
            return self.running()
        return runtime.wait_until_ready(self.health_url, self.process, self.spec.ready_seconds)

    def close_log(self) -> None:
        """Closes the log file."""
        if self._log is not None:
            self._log.close()
            self._log = None


def children(settings: ProdSettings, wrap: runtime.Wrapper | None = None) -> list[Child]:
    """The action servers, the Rasa servers and nginx, in start order.

    ``wrap`` is the per-tier command hook (default: ``POSBOT_TIER_PREFIXES``, see
    :mod:`bot.runtime`).
    """
    env = runtime.bot_environment(
        {
            DB_URL.env: settings.case_db_url,
            TRACKER_URL.env: settings.tracker_db_url,
            REDIS_URL.env: settings.redis_url,
            # The same limit as nginx's; behind nginx the client is its X-Forwarded-For.
            RATE_LIMIT.env: settings.rate_limit,
            TRUSTED_PROXIES.env: HOST,
            "SANIC_HOST": HOST,
            "PYTHONUNBUFFERED": "1",
        }
    )
    if wrap is None:
        wrap = runtime.wrapper_from_env(env)
    specs = [
        # rasa-sdk behind the actions secret, on POSBOT_ACTIONS_HOST (loopback by default).
        runtime.ProcessSpec(
            name=f"actions-{i + 1}", tier=runtime.ACTIONS,
            command=tuple(runtime.action_server_command(p)), env=env,
            health_url=f"http://{HOST}:{p}/health", ready_seconds=ACTIONS_READY_SECONDS,
        )
        for i, p in enumerate(settings.actions_ports)
    ]  # fmt: skip
    specs += [
        # The same launcher as `posbot serve` (Rasa's CLI with bot.speedups), loopback only.
        # Each with its routing hint in the session tokens it issues (nginx's map).
        runtime.ProcessSpec(
            name=f"rasa-{i + 1}", tier=runtime.RASA, env={**env, SESSION_ROUTE.env: rasa_route(i)},
            command=tuple(runtime.rasa_server_command(
                settings.model, p, settings.endpoints_file, ["--interface", HOST]
            )),
            health_url=f"http://{HOST}:{p}/", ready_seconds=RASA_READY_SECONDS,
        )
        for i, p in enumerate(settings.rasa_ports)
    ]  # fmt: skip
    specs.append(
        runtime.ProcessSpec(
            name="nginx", tier=runtime.NGINX, command=tuple(nginx_command(settings)), env=env,
            health_url=f"http://{HOST}:{settings.public_port}/nginx-health",
            ready_seconds=NGINX_READY_SECONDS,
        )
    )  # fmt: skip
    # The notification worker (posbot notify): no health URL, running is ready.
    specs.append(
        runtime.ProcessSpec(
            name=runtime.NOTIFY, tier=runtime.NOTIFY, env=env,
            command=tuple(runtime.notify_command()),
        )
    )  # fmt: skip
    return [
        Child(runtime.wrapped(spec, wrap), settings.logs_dir / f"{spec.name}.log") for spec in specs
    ]


class Supervisor:
    """Runs the children until SIGTERM/SIGINT, restarting any that exits."""

    def __init__(
        self,
        settings: ProdSettings,
        processes: list[Child],
        check: Callable[[str], bool] = answers,
    ) -> None:
        self.settings = settings
        self.children = processes
        self.check = check
        self._stopping = False
        self._stopped = threading.Event()

    def start_all(self) -> None:
        """Starts every child group and waits until each answers its health check.

        Raises:
            RuntimeError: a process did not become ready (its log tells why).
        """
        groups = [
            [c for c in self.children if c.name.startswith(prefix)]
            for prefix in ("actions", "rasa", "nginx", runtime.NOTIFY)
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
        # Atomically: ``posbot prod status`` read a half-written file as "not running".
        write_json(self.settings.state_file, state, indent=2)

    def check_liveness(self) -> list[str]:
        """One round of health checks of the running children; kills each that answered
        since it started and has now missed :data:`LIVENESS_FAILURES` checks in a row
        (``watch`` restarts it). Returns the names of the children it killed."""
        killed = []
        for child in self.children:
            process = child.process
            if not child.health_url or process is None or process.poll() is not None:
                continue
            if self.check(child.health_url):
                child.answered, child.missed = True, 0
                continue
            if not child.answered or process is not child.process:
                continue  # still starting (a restarted Rasa server loads its model)
            child.missed += 1
            if child.missed >= LIVENESS_FAILURES:
                print(
                    f"posbot prod: {child.name} (pid {process.pid}) missed {child.missed} "
                    "health checks in a row; killed, it will be restarted",
                    flush=True,
                )
                process.kill()
                child.answered, child.missed = False, 0
                killed.append(child.name)
        return killed

    def _watch_liveness(self) -> None:
        while not self._stopped.wait(LIVENESS_INTERVAL_SECONDS):
            self.check_liveness()

    def watch(self) -> None:
        """Restarts children that exit, with a growing delay, until asked to stop; kills
        children that stopped answering (:meth:`check_liveness`, in a thread of its own)."""
        threading.Thread(target=self._watch_liveness, name="liveness", daemon=True).start()
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
        self._stopped.set()

    def stop_all(self) -> None:
        """SIGTERM to every child (nginx first), then SIGKILL after a grace period."""
        self._stopping = True
        self._stopped.set()
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
