"""Builds and removes the namespaces of a run; tells why the machine cannot, if it cannot."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from collections.abc import Sequence
from typing import Final

from bot.quality.netsim.topology import (
    Topology,
    namespace_name,
    netem_commands,
    owner_of,
    setup_commands,
    teardown_commands,
)

PROBE_HOST: Final = "probe"
COMMAND_TIMEOUT_SECONDS: Final = 30


class NetworkError(RuntimeError):
    """An ``ip``/``tc`` command failed."""


def _run(command: Sequence[str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        command, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_SECONDS, check=False
    )


def run_all(commands: Sequence[Sequence[str]]) -> None:
    """Runs each command; the first failure raises with its command line and error."""
    for command in commands:
        result = _run(command)
        if result.returncode != 0:
            raise NetworkError(f"`{' '.join(command)}` failed: {result.stderr.strip()}")


def missing_requirement(tools: Sequence[str]) -> str | None:
    """Why namespaces cannot be used here (None when they can): root, iproute2, the kernel."""
    if os.geteuid() != 0:
        return "needs root (network namespaces and veth links need CAP_NET_ADMIN)"
    missing = [tool for tool in ("ip", *tools) if shutil.which(tool) is None]
    if missing:
        return f"not installed: {', '.join(missing)} (e.g. apt-get install iproute2)"
    probe = namespace_name(os.getpid(), PROBE_HOST)
    result = _run(["ip", "netns", "add", probe])
    if result.returncode != 0:
        return f"`ip netns add` is not allowed here: {result.stderr.strip()}"
    result = _run(["ip", "-n", probe, "link", "add", "v0", "type", "veth", "peer", "name", "v1"])
    _run(["ip", "netns", "delete", probe])
    if result.returncode != 0:
        return f"veth links are not available: {result.stderr.strip()}"
    return None


def netem_problem(topology: Topology) -> str | None:
    """Why ``tc netem`` cannot delay the switch's ports (None when it can)."""
    if shutil.which("tc") is None:
        return "`tc` is not installed (apt-get install iproute2)"
    result = _run(netem_commands(topology, 0.0)[0])
    if result.returncode != 0:
        return f"`tc qdisc … netem` failed ({result.stderr.strip()}; no sch_netem in this kernel?)"
    return None


def build(topology: Topology) -> None:
    """Creates the namespaces and links (tears down what it made if a step fails)."""
    try:
        run_all(setup_commands(topology))
    except (NetworkError, subprocess.TimeoutExpired):
        teardown(topology.namespaces)
        raise


def existing_namespaces() -> list[str]:
    """Names from ``ip netns list``."""
    result = _run(["ip", "netns", "list"])
    return [line.split()[0] for line in result.stdout.splitlines() if line.strip()]


def kill_namespace_processes(namespace: str) -> None:
    """SIGKILL to the processes still in ``namespace`` (ones a run of this tool started)."""
    result = _run(["ip", "netns", "pids", namespace])
    for pid in result.stdout.split():
        with contextlib.suppress(OSError, ValueError):
            os.kill(int(pid), signal.SIGKILL)


def teardown(namespaces: Sequence[str]) -> None:
    """Kills what is left inside, then deletes the namespaces (and with them every veth)."""
    present = set(existing_namespaces())
    for namespace in namespaces:
        if namespace in present:
            kill_namespace_processes(namespace)
    for command in teardown_commands([ns for ns in namespaces if ns in present]):
        _run(command)


def sweep_stale() -> list[str]:
    """Removes the namespaces of earlier runs whose process is gone (killed with SIGKILL)."""
    stale = []
    for namespace in existing_namespaces():
        owner = owner_of(namespace)
        if owner is None or owner == os.getpid():
            continue
        try:
            os.kill(owner, 0)
        except ProcessLookupError:
            stale.append(namespace)
        except PermissionError:
            continue
    teardown(stale)
    return stale
