"""Starting, waiting for and stopping the bot's processes; free loopback ports.

Every process is described by a :class:`ProcessSpec` (its name, tier, command, environment and
health URL). Before it starts, the spec passes through an optional :data:`Wrapper`, the
per-tier command hook: it may prefix or replace the command (e.g. ``ip netns exec NS …`` to
run a tier inside a network namespace) and change the health URL the readiness wait polls.
"""

from __future__ import annotations

import contextlib
import ctypes
import shlex
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Final

from bot.settings import TIER_PREFIXES

HOST: Final = "127.0.0.1"
POLL_SECONDS: Final = 0.5
STOP_SECONDS: Final = 20.0
LOG_TAIL_CHARS: Final = 3000
TIER_PREFIXES_ENV: Final = TIER_PREFIXES.env
_PR_SET_PDEATHSIG: Final = 1


class BotStartError(RuntimeError):
    """A process exited or did not answer its health check in time (the message says which,
    with the end of its log when it has one)."""


@dataclass(frozen=True)
class ProcessSpec:
    """One process to start: ``name`` is unique in a deployment (``rasa-2``), ``tier`` says
    what it is (:data:`bot.runtime.commands.TIERS`); ``health_url`` answers 200 when ready."""

    name: str
    tier: str
    command: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict, compare=False)
    health_url: str | None = None
    ready_seconds: float = 90.0
    cwd: Path | None = None
    title: str = ""  # for messages: "the action server" (default: the name)

    def prefixed(self, prefix: Sequence[str]) -> ProcessSpec:
        """The same process started through ``prefix`` (``["ip", "netns", "exec", "ns1"]``)."""
        return replace(self, command=(*prefix, *self.command))


#: The per-tier command hook: takes a spec about to start, returns the one to start instead.
Wrapper = Callable[[ProcessSpec], ProcessSpec]


def prefix_tiers(prefixes: Mapping[str, Sequence[str] | str]) -> Wrapper:
    """A wrapper prefixing commands by process name (``rasa-2``) or else by tier (``rasa``).

    A prefix is a list of arguments or one shell-quoted string (``"ip netns exec ns-rasa"``).
    """
    table = {key: shlex.split(v) if isinstance(v, str) else list(v) for key, v in prefixes.items()}

    def wrap(spec: ProcessSpec) -> ProcessSpec:
        prefix = table.get(spec.name, table.get(spec.tier))
        return spec.prefixed(prefix) if prefix else spec

    return wrap


def wrapper_from_env(environ: Mapping[str, str] | None = None) -> Wrapper | None:
    """The wrapper configured by ``POSBOT_TIER_PREFIXES`` (a JSON object of name or tier to
    prefix, e.g. ``{"rasa": "ip netns exec ns-rasa"}``), or ``None`` when unset.

    Raises:
        ValueError: the variable is not such a JSON object.
    """
    prefixes = TIER_PREFIXES.read(environ)
    return None if prefixes is None else prefix_tiers(prefixes)


def wrapped(spec: ProcessSpec, wrap: Wrapper | None) -> ProcessSpec:
    """``spec`` after the hook (unchanged without one)."""
    return wrap(spec) if wrap is not None else spec


def die_with_parent() -> None:
    """In a child, before exec: SIGTERM when its parent goes away (``PR_SET_PDEATHSIG``)."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def spawn(
    spec: ProcessSpec,
    output: IO[str] | None = None,
    *,
    with_parent: bool = False,
    stdin: int | None = None,
) -> subprocess.Popen:
    """Starts ``spec`` (already wrapped); stdout and stderr go to ``output`` (default: ours).

    ``with_parent`` makes the child die with this process.
    """
    return subprocess.Popen(
        list(spec.command),
        cwd=spec.cwd,
        env=dict(spec.env),
        stdin=stdin,
        stdout=output,
        stderr=subprocess.STDOUT if output is not None else None,
        preexec_fn=die_with_parent if with_parent else None,
    )


def wait_until_ready(url: str, process: subprocess.Popen, timeout: float) -> bool:
    """Polls ``url`` until it answers 200, the process exits or the timeout passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(POLL_SECONDS)
    return False


def stop_processes(processes: Iterable[subprocess.Popen], grace: float = STOP_SECONDS) -> None:
    """SIGTERM to each process still running (in the given order), SIGKILL after ``grace``."""
    processes = list(processes)
    for process in processes:
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + grace
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def log_tail(path: Path | None, chars: int = LOG_TAIL_CHARS) -> str:
    """The end of a log file ('' when there is none)."""
    if path is None or not path.exists():
        return ""
    return path.read_text(encoding="utf-8", errors="replace")[-chars:]


def free_ports(count: int, within: Iterable[int] | None = None, host: str = HOST) -> list[int]:
    """``count`` distinct ports free on ``host`` now: any (the kernel's choice) or ``within``.

    Raises:
        OSError: ``within`` has fewer than ``count`` free ports.
    """
    with contextlib.ExitStack() as held:  # held until all are chosen, so they differ
        ports: list[int] = []
        for candidate in [0] * count if within is None else within:
            sock = held.enter_context(socket.socket())
            try:
                sock.bind((host, candidate))
            except OSError:
                continue
            ports.append(sock.getsockname()[1])
            if len(ports) == count:
                return ports
    raise OSError(f"no {count} free ports on {host} in {within}")


def free_port(host: str = HOST) -> int:
    """One port free on ``host`` now."""
    return free_ports(1, host=host)[0]


@dataclass
class Started:
    """Processes started by :func:`running_processes`, by name, with their log files."""

    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    logs: dict[str, Path] = field(default_factory=dict)
    ready_at: dict[str, float] = field(default_factory=dict)
    started_at: dict[str, float] = field(default_factory=dict)
    _files: list[IO[str]] = field(default_factory=list, repr=False)
    grace: float = STOP_SECONDS

    def alive(self) -> bool:
        """Whether every process is still running."""
        return all(process.poll() is None for process in self.processes.values())

    def stop(self) -> None:
        """Stops every process, the last started first; closes the logs. Idempotent."""
        stop_processes(reversed(list(self.processes.values())), self.grace)
        for handle in self._files:
            handle.close()
        self._files.clear()


@contextlib.contextmanager
def running_processes(
    groups: Sequence[Sequence[ProcessSpec]],
    logs_dir: Path | None = None,
    wrap: Wrapper | None = None,
    grace: float = STOP_SECONDS,
) -> Iterator[Started]:
    """Starts each group of processes, waits until all of a group are ready before starting
    the next, yields them and stops them all on the way out (also after a failed start).

    Each process logs to ``logs_dir/<name>.log`` (stdout and stderr), or to our own output
    when ``logs_dir`` is ``None``.

    Raises:
        BotStartError: a process exited or was not ready in time.
    """
    started = Started(grace=grace)
    try:
        for group in groups:
            specs = [wrapped(spec, wrap) for spec in group]
            for spec in specs:
                output = None
                if logs_dir is not None:
                    logs_dir.mkdir(parents=True, exist_ok=True)
                    started.logs[spec.name] = logs_dir / f"{spec.name}.log"
                    output = started.logs[spec.name].open("w", encoding="utf-8")
                    started._files.append(output)
                started.started_at[spec.name] = time.monotonic()
                started.processes[spec.name] = spawn(spec, output)
            for spec in specs:
                process = started.processes[spec.name]
                if spec.health_url and not wait_until_ready(
                    spec.health_url, process, spec.ready_seconds
                ):
                    where = started.logs.get(spec.name)
                    tail = log_tail(where)
                    raise BotStartError(
                        f"{spec.title or spec.name} did not start"
                        + (f"; see {where}:\n{tail}" if where else "")
                    )
                started.ready_at[spec.name] = time.monotonic()
        yield started
    finally:
        started.stop()
