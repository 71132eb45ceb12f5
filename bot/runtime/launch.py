"""``running_bot``: one Rasa server and its action server; ``running_prod``: the production
profile under its supervisor. Both start, wait until ready, yield and stop."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from bot.runtime.commands import (
    ACTIONS,
    DEFAULT_MODEL,
    RASA,
    SUPERVISOR,
    action_server_command,
    prod_start_command,
    rasa_server_command,
)
from bot.runtime.endpoints import endpoints_for
from bot.runtime.environment import bot_environment
from bot.runtime.processes import (
    HOST,
    STOP_SECONDS,
    ProcessSpec,
    Started,
    Wrapper,
    free_ports,
    running_processes,
)

ACTIONS_READY_SECONDS: Final = 90
RASA_READY_SECONDS: Final = 240
PROD_READY_SECONDS: Final = 420
WEBHOOK_PATH: Final = "/webhooks/rest/webhook"
ENDPOINTS_NAME: Final = "endpoints.yml"


@dataclass
class RunningBot:
    """A started bot: its URL (Rasa, or nginx for the production profile) and processes."""

    url: str
    port: int
    actions_port: int | None
    env: dict[str, str]
    endpoints: Path | None
    started: Started

    @property
    def webhook(self) -> str:
        """The REST channel's URL."""
        return self.url + WEBHOOK_PATH

    @property
    def pids(self) -> dict[str, int]:
        """Process ids by name (``actions``, ``rasa``; ``supervisor`` for the profile)."""
        return {name: process.pid for name, process in self.started.processes.items()}

    @property
    def logs(self) -> dict[str, Path]:
        """Log files by process name (empty when the processes write to our output)."""
        return dict(self.started.logs)

    def alive(self) -> bool:
        """Whether every process is still running."""
        return self.started.alive()

    def stop(self) -> None:
        """Stops every process now (the context manager's exit does it too)."""
        self.started.stop()

    def seconds_to_ready(self, name: str = RASA) -> float:
        """Seconds from the start of process ``name`` until it answered its health check."""
        return self.started.ready_at[name] - self.started.started_at[name]

    def started_at(self, name: str = RASA) -> float:
        """``time.monotonic()`` when process ``name`` was started."""
        return self.started.started_at[name]


def actions_spec(
    port: int,
    env: Mapping[str, str],
    extra: Sequence[str] = (),
    cwd: Path | None = None,
    ready_seconds: float = ACTIONS_READY_SECONDS,
) -> ProcessSpec:
    """The action server on ``port`` (health: ``/health``)."""
    return ProcessSpec(
        name=ACTIONS, tier=ACTIONS, command=tuple(action_server_command(port, extra)), env=env,
        health_url=f"http://{HOST}:{port}/health", ready_seconds=ready_seconds, cwd=cwd,
        title="the action server",
    )  # fmt: skip


def rasa_spec(
    model: str | Path,
    port: int,
    endpoints: Path,
    env: Mapping[str, str],
    extra: Sequence[str] = (),
    cwd: Path | None = None,
    ready_seconds: float = RASA_READY_SECONDS,
) -> ProcessSpec:
    """The Rasa server with the REST channel on ``port`` (health: ``/``)."""
    return ProcessSpec(
        name=RASA, tier=RASA, command=tuple(rasa_server_command(model, port, endpoints, extra)),
        env=env, health_url=f"http://{HOST}:{port}/", ready_seconds=ready_seconds, cwd=cwd,
        title="the Rasa server",
    )  # fmt: skip


@contextlib.contextmanager
def running_bot(
    model: str | Path = DEFAULT_MODEL,
    *,
    env: Mapping[str, str] | None = None,
    port: int | None = None,
    actions_port: int | None = None,
    workdir: Path | None = None,
    endpoints: Mapping[str, Any] | None = None,
    endpoints_file: Path | None = None,
    rasa_args: Sequence[str] = (),
    actions_args: Sequence[str] = (),
    cwd: Path | None = None,
    wrap: Wrapper | None = None,
    actions_ready_seconds: float = ACTIONS_READY_SECONDS,
    rasa_ready_seconds: float = RASA_READY_SECONDS,
    stop_seconds: float = STOP_SECONDS,
) -> Iterator[RunningBot]:
    """Starts the action server, waits until it answers, starts the Rasa server, waits, yields
    the running bot and stops both on the way out.

    Args:
        model: the trained model.
        env: variables over :func:`bot_environment` (``POSBOT_DB_URL``…).
        port, actions_port: the Rasa and action server ports; free ports when ``None``.
        workdir: where the generated endpoints file and the logs (``actions.log``,
            ``rasa.log``) go; ``None``: the processes write to our output and the endpoints
            file is ``endpoints.yml`` (default actions port) or ``var/endpoints.<port>.yml``.
        endpoints: the endpoint sections besides the action endpoint (``{}``: in-memory
            trackers, no NLG); ``None``: those of ``endpoints.yml`` (``make run``'s).
        endpoints_file: use this endpoints file as it is instead.
        rasa_args, actions_args: extra arguments (``--debug``, ``--enable-api``…).
        cwd: the working directory of both processes (default: ours).
        wrap: the per-tier command hook (:data:`bot.runtime.Wrapper`), applied to each
            process's spec before it starts.
        actions_ready_seconds, rasa_ready_seconds: how long each may take to answer.
        stop_seconds: SIGTERM to SIGKILL on the way out.

    Raises:
        BotStartError: a server exited or did not answer in time.
    """
    env = bot_environment(env)
    if port is None or actions_port is None:
        chosen = iter(free_ports(2))
        port = port or next(chosen)
        actions_port = actions_port or next(chosen)
    if endpoints_file is None:
        target = workdir / ENDPOINTS_NAME if workdir is not None else None
        endpoints_file = endpoints_for(actions_port, env, sections=endpoints, target=target)
    groups = [
        [actions_spec(actions_port, env, actions_args, cwd, actions_ready_seconds)],
        [rasa_spec(model, port, endpoints_file, env, rasa_args, cwd, rasa_ready_seconds)],
    ]
    with running_processes(groups, workdir, wrap, stop_seconds) as started:
        yield RunningBot(f"http://{HOST}:{port}", port, actions_port, env, endpoints_file, started)


@contextlib.contextmanager
def running_prod(
    state_dir: Path,
    base_port: int,
    *,
    model: str | Path = DEFAULT_MODEL,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    wrap: Wrapper | None = None,
    ready_seconds: float = PROD_READY_SECONDS,
    stop_seconds: float = 60.0,
) -> Iterator[RunningBot]:
    """``posbot prod start`` (nginx on ``base_port``, 2 Rasa + 2 action servers, PostgreSQL,
    Redis from ``POSBOT_DB_URL``/``POSBOT_TRACKER_URL``/``POSBOT_REDIS_URL`` in ``env``) as a
    child process; ready when nginx passes a request to a Rasa server. The supervisor's
    output goes to ``state_dir/supervisor.log``, each server's to ``state_dir/logs/``.

    ``wrap`` applies to the supervisor; its children take the hook from
    ``POSBOT_TIER_PREFIXES`` in ``env`` (see :func:`bot.runtime.wrapper_from_env`).
    """
    env = bot_environment(env)
    state_dir.mkdir(parents=True, exist_ok=True)
    spec = ProcessSpec(
        name=SUPERVISOR, tier=SUPERVISOR, command=tuple(prod_start_command(base_port, state_dir,
        model)), env=env, health_url=f"http://{HOST}:{base_port}/", ready_seconds=ready_seconds,
        cwd=cwd, title="the production profile",
    )  # fmt: skip
    with running_processes([[spec]], state_dir, wrap, stop_seconds) as started:
        yield RunningBot(f"http://{HOST}:{base_port}", base_port, None, env, None, started)
