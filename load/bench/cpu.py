"""CPU time of a deployment's processes (Linux ``/proc``): what a turn costs in CPU, a figure
less disturbed by other work on a shared machine than turns per second."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Final

PROC: Final = Path("/proc")
TICKS: Final = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # after "pid (comm) ": state, ppid, ...


def descendants(roots: Iterable[int]) -> set[int]:
    """``roots`` and every process below them."""
    children: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields:
                children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, queue = set(), list(roots)
    while queue:
        pid = queue.pop()
        if pid not in found:
            found.add(pid)
            queue += children.get(pid, [])
    return found


def cpu_seconds(pids: Iterable[int]) -> dict[int, float]:
    """User + system CPU seconds of each process still running."""
    result = {}
    for pid in pids:
        fields = _stat_fields(pid)
        if fields:
            result[pid] = (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime
    return result


def spent(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds spent between two readings (processes in both, or new in ``after``)."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def settle(
    pids: Callable[[], set[int]],
    idle_share: float = 0.1,
    window_seconds: float = 0.5,
    limit_seconds: float = 30.0,
) -> float:
    """Waits until the processes ``pids()`` use less than ``idle_share`` of one core over
    ``window_seconds`` (a worker still importing its libraries, a cache being warmed), at most
    ``limit_seconds``; returns the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < limit_seconds:
        watched = pids()
        before = cpu_seconds(watched)
        time.sleep(window_seconds)
        if spent(before, cpu_seconds(watched)) < idle_share * window_seconds:
            break
    return time.monotonic() - started
