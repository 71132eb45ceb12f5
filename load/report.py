"""The results file of a load run (Markdown, committed with the command that produced it)."""

from __future__ import annotations

import os
import platform
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from load.events import EventCheck
from load.stats import RunStats, TurnStats


@dataclass(frozen=True)
class RunInfo:
    """Where, when and how the run was made."""

    profile: str
    description: str
    command: str
    locust_command: str
    date: str
    settings: Mapping[str, object]
    load_average: str = ""


def machine() -> str:
    """CPU count and model, memory, OS and Python of this machine."""
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f", {int(line.split()[1]) / 1024 / 1024:.1f} GB RAM"
    cores = os.cpu_count() or 0
    return (
        f"{cores} cores ({model or platform.machine()}){memory}, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}; load generator and "
        "servers share the machine"
    )


def git_revision() -> str:
    """The commit the run was made on (``+dirty`` when the work tree had changes)."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{commit}+dirty" if dirty else commit


def _row(turn: TurnStats) -> str:
    return (
        f"| {turn.name} | {turn.requests} | {turn.errors} | {turn.p50_ms:.0f} | "
        f"{turn.p95_ms:.0f} | {turn.p99_ms:.0f} | {turn.max_ms:.0f} |"
    )


def render(info: RunInfo, stats: RunStats, events: EventCheck) -> str:
    """The Markdown results of one run."""
    verdict = "PASS" if stats.total.errors == 0 and events.clean else "FAIL"
    settings = ", ".join(f"{key} {value}" for key, value in info.settings.items())
    lines = [
        f"# Load test: {info.profile} profile — {verdict}",
        "",
        f"{info.description}",
        "",
        f"- Command: `{info.command}`",
        f"- Locust: `{info.locust_command}`",
        f"- Date: {info.date}; commit {git_revision()}",
        f"- Machine: {machine()}",
        f"- Load average (1 min) before / at the end of the run: {info.load_average}",
        f"- Settings: {settings}",
        "",
        "Each simulated merchant (its own sender id and its own seeded merchant with a terminal",
        "and an application under review) holds full conversations: greet, ask why the terminal",
        "was suspended, merchant id, phone last four, application status, thank. A turn is an",
        "error unless the replies are the expected domain responses for that step.",
        "",
        "| turn | requests | errors | p50 ms | p95 ms | p99 ms | max ms |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *(_row(turn) for turn in stats.turns),
        _row(stats.total),
        "",
        f"- Turns per second: **{stats.turns_per_second:.1f}** "
        f"({stats.total.requests} turns in {stats.seconds:.1f} s)",
        f"- Errors: **{stats.total.errors}**",
        f"- Conversations: {stats.conversations} started, "
        f"{stats.completed_conversations} completed with every turn right",
        f"- Events: {events.sent} messages sent, {events.present_once} in their tracker exactly "
        f"once; lost **{events.lost}**, duplicated **{events.duplicated}**, unexpected "
        f"{events.unexpected}, conversations out of order {events.out_of_order}, "
        f"requests without an HTTP response {events.unanswered}",
    ]
    if stats.problems:
        lines += ["", "Most frequent errors:", ""]
        lines += [f"- {count} × {problem}" for problem, count in stats.problems]
    lines += [
        "",
        "Figures are for orientation (the compass), not a test: they vary with what else runs",
        "on the machine.",
        "",
    ]
    return "\n".join(lines)
