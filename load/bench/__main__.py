"""``python -m load.bench`` (``make bench``): both profiles under the same load, side by side.

For each profile — the single process of ``make run`` and the production profile of
``posbot prod start`` (PostgreSQL tracker, Redis lock store, nginx, 2 Rasa + 2 action servers)
— it starts the bot with fresh stores, warms it up, runs the load script
(:mod:`load.bench.script`) with 10 and then 20 senders, then three conversations of 400 turns
one after another (the conversation-length curve), and stops it. Writes ``bench.json``,
``summary.md`` and ``chart.svg`` to ``--out``; prints the ratios and a text chart. The
production profile is skipped, with the reason, when PostgreSQL, Redis or nginx is unavailable.
A few minutes in all; every server is on 127.0.0.1.

Exit code 1 when a turn failed or a profile did not start.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from bot import runtime
from bot.settings import TEST_PG_URL
from load.bench import chart, profiles
from load.bench.cpu import cpu_seconds, settle, spent
from load.bench.figures import (
    CURVE_CONVERSATIONS,
    PROD,
    SINGLE,
    curve_points,
    ratios,
    run_figures,
    turn_medians,
)
from load.bench.report import render
from load.bench.script import CONVERSATION, Run, load
from load.merchants import load_merchants
from load.servers import MODEL, ROOT

WORK_DIR: Final = Path("var/bench")
SENDERS: Final = (10, 20)
# 12 conversations of 5 turns per sender: 600 and 1200 turns, several seconds per run (4 gave
# runs of 1.5 s whose turns per second swung by ±15 % from run to run).
REPEATS: Final = 12
#: Runs per profile and sender count, taken in turns with the other profile's (A B B A A B B A:
#: with 2, one slow minute of the shared host moved prod/single from 1.15 to 1.85).
BLOCKS: Final = 4
CURVE_TURNS: Final = 400
WARM_UP_SENDERS: Final = 4
PROD_BASE_PORT: Final = 5470  # nginx; the profile takes base..base+12
PG_ADMIN_URL: Final = TEST_PG_URL.read()
DATABASE: Final = "posbot_bench"
REDIS_URL: Final = "redis://127.0.0.1:6379/11"
WEBHOOK: Final = "/webhooks/rest/webhook"
TRACKERS_TEXT: Final = {
    profiles.SQLITE: "SQLite tracker store of endpoints.yml",
    profiles.MEMORY: "in-memory tracker store (not make run's SQLite file)",
}
EXIT_OK: Final = 0
EXIT_FAILED: Final = 1


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m load.bench``."""
    parser = argparse.ArgumentParser(
        prog="python -m load.bench", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--out", type=Path, default=Path("reports/bench"))
    parser.add_argument("--senders", default=",".join(map(str, SENDERS)), help="e.g. 10,20")
    parser.add_argument("--repeats", type=int, default=REPEATS, help="conversations per sender")
    parser.add_argument("--curve-turns", type=int, default=CURVE_TURNS)
    parser.add_argument(
        "--curve-conversations", type=int, default=CURVE_CONVERSATIONS,
        help="conversations of the curve, one after another",
    )  # fmt: skip
    parser.add_argument("--skip-prod", action="store_true", help="only the single process")
    parser.add_argument(
        "--single-trackers",
        choices=(profiles.SQLITE, profiles.MEMORY),
        default=profiles.SQLITE,
        help="tracker store of the single process: make run's SQLite file, or in memory",
    )
    parser.add_argument("--prod-base-port", type=int, default=PROD_BASE_PORT)
    parser.add_argument("--pg-admin-url", default=PG_ADMIN_URL)
    parser.add_argument("--database", default=DATABASE, help="recreated, dropped afterwards")
    parser.add_argument("--redis-url", default=REDIS_URL)
    return parser


def _in_turns(names: Sequence[str], index: int) -> list[str]:
    """The profiles in the order of run ``index``: A B, then B A, and so on."""
    return list(names) if index % 2 == 0 else list(reversed(names))


def block_plan(names: Sequence[str], repeats: int) -> list[tuple[str, int]]:
    """The load runs of one sender count: (profile, conversations per sender), each profile
    in :data:`BLOCKS` runs (fewer when ``repeats`` is smaller), in the order A B B A ...

    The machine's speed drifts by ±20 % within minutes on a shared host; runs of the profiles
    taken in turns meet the same drift, so their ratio does not depend on which ran first.
    """
    blocks = min(BLOCKS, repeats)
    sizes = [repeats // blocks + (1 if block < repeats % blocks else 0) for block in range(blocks)]
    plan: list[tuple[str, int]] = []
    for block, size in enumerate(sizes):
        plan.extend((name, size) for name in _in_turns(names, block))
    return plan


def _merged(runs: Sequence[Run]) -> Run:
    """The turns of ``runs`` as one run (their wall-clock times added)."""
    return Run(
        turns=[turn for run in runs for turn in run.turns],
        seconds=sum(run.seconds for run in runs),
    )


def measure(
    started: dict[str, profiles.Started], senders: Sequence[int], args: argparse.Namespace
) -> dict[str, dict[str, Any]]:
    """Warm-up, the load runs and the conversation-length curve against the started profiles,
    the profiles' runs taken in turns (:func:`block_plan`)."""
    merchants = load_merchants(max(senders) + args.curve_conversations)
    for name, profile in started.items():
        asyncio.run(load(profile.url + WEBHOOK, merchants[:WARM_UP_SENDERS], 1, f"{name}-warm"))
    for name, profile in started.items():
        # Steady state: what a profile does once after starting (the notification worker
        # imports its libraries for about a CPU second) is not counted against the turns.
        waited = settle(profile.pids)
        print(f"bench: {name} idle after {waited:.1f} s", flush=True)
    runs: dict[str, dict[str, Any]] = {name: {} for name in started}
    for count in senders:
        done: dict[str, list[Run]] = {name: [] for name in started}
        cpu: dict[str, float] = dict.fromkeys(started, 0.0)
        for block, (name, repeats) in enumerate(block_plan(list(started), args.repeats)):
            profile = started[name]
            pids = profile.pids()
            before = cpu_seconds(pids)
            webhook = profile.url + WEBHOOK
            tag = f"{name}-{count}-{block}"
            done[name].append(asyncio.run(load(webhook, merchants[:count], repeats, tag)))
            cpu[name] += spent(before, cpu_seconds(profile.pids() | pids))
        for name, blocks in done.items():
            run = _merged(blocks)
            figures: dict[str, Any] = dict(run_figures(run))
            figures["cpu_ms_per_turn"] = cpu[name] * 1000 / max(1, figures["turns"])
            figures["problems"] = run.problems
            figures["blocks"] = len(blocks)
            runs[name][str(count)] = figures
            print(
                f"bench: {name}, {count} senders: {figures['turns']} turns in {len(blocks)} "
                f"runs, {figures['turns_per_second']:.1f}/s, p50/p95 "
                f"{figures.get('p50_ms', 0):.0f}/{figures.get('p95_ms', 0):.0f} ms, "
                f"{figures['errors']} errors, {figures['cpu_ms_per_turn']:.1f} CPU ms/turn",
                flush=True,
            )
    repeats = -(-args.curve_turns // len(CONVERSATION))
    curves: dict[str, list[Run]] = {name: [] for name in started}
    for number, merchant in enumerate(merchants[-args.curve_conversations :]):
        for name in _in_turns(list(started), number):
            tag = f"{name}-curve-{number + 1}"
            curves[name].append(
                asyncio.run(load(started[name].url + WEBHOOK, [merchant], repeats, tag))
            )
    return {name: _profile_figures(name, runs[name], curves[name], args) for name in started}


def _profile_figures(
    name: str, runs: dict[str, Any], curves: list[Run], args: argparse.Namespace
) -> dict[str, Any]:
    """One profile's figures: its load runs and its conversation-length curve."""
    conversations = [
        [turn.seconds * 1000 for turn in sorted(curve.turns, key=lambda t: t.number)][
            : args.curve_turns
        ]
        for curve in curves
    ]
    latencies = turn_medians(conversations)
    points = curve_points(latencies)
    curve_errors = sum(curve.errors for curve in curves)
    print(
        f"bench: {name}, {len(curves)} conversations: "
        + ", ".join(f"turn {turn} {point['mean_ms']:.1f} ms" for turn, point in points.items())
        + (f" ({curve_errors} errors)" if curve_errors else ""),
        flush=True,
    )
    return {
        "runs": runs,
        "curve": points,
        "curve_errors": curve_errors,
        "curve_problems": [problem for curve in curves for problem in curve.problems],
        "latencies_ms": latencies,
        "conversations_ms": conversations,
    }


def _commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
            check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _profiles(
    args: argparse.Namespace, merchants: int
) -> list[tuple[str, str, str, Callable[[], AbstractContextManager[profiles.Started]]]]:
    single_dir, prod_dir = WORK_DIR / SINGLE, WORK_DIR / PROD
    return [
        (SINGLE, profiles.SINGLE_TITLE,
         "one Rasa server and one action server (`posbot serve`), "
         + (TRACKERS_TEXT[args.single_trackers]) + ", SQLite case store",
         lambda: profiles.single(single_dir, merchants, args.single_trackers)),
        (PROD, profiles.PROD_TITLE,
         f"nginx, 2 Rasa servers, 2 action servers, PostgreSQL case and tracker stores "
         f"(database {args.database}), Redis lock store ({args.redis_url})",
         lambda: profiles.prod(prod_dir, args.pg_admin_url, args.database, args.redis_url,
                               args.prod_base_port, merchants)),
    ]  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the bench and writes its reports; 1 when a turn failed or a profile did not start."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.curve_conversations < 1 or args.curve_turns < 1 or args.repeats < 1:
        parser.error("--repeats, --curve-turns and --curve-conversations must be at least 1")
    senders = [int(s) for s in args.senders.split(",") if s]
    os.chdir(ROOT)
    if not Path(MODEL).exists():
        print(f"bench: no trained model at {MODEL}; run `make bench` (it trains first)")
        return EXIT_FAILED
    results: dict[str, Any] = {
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
        "commit": _commit(),
        "cores": os.cpu_count(),
        "command": shlex.join(["python", "-m", "load.bench", *argv]),
        "load_before": f"{os.getloadavg()[0]:.1f}",
        "senders": senders,
        "repeats": args.repeats,
        "curve_turns": args.curve_turns,
        "curve_conversations": args.curve_conversations,
        "profiles": {},
        "skipped": {},
    }
    failed = False
    titles: dict[str, tuple[str, str]] = {}
    with contextlib.ExitStack() as stack:
        started: dict[str, profiles.Started] = {}
        for name, title, description, start in _profiles(
            args, max(senders) + args.curve_conversations
        ):
            if name == PROD and args.skip_prod:
                results["skipped"][name] = "--skip-prod"
                continue
            workdir = WORK_DIR / name
            shutil.rmtree(workdir, ignore_errors=True)
            workdir.mkdir(parents=True)
            print(f"bench: starting the {title}", flush=True)
            try:
                started[name] = stack.enter_context(start())
            except profiles.Unavailable as error:
                print(f"bench: production profile skipped: {error}", flush=True)
                results["skipped"][name] = str(error)
                continue
            except runtime.BotStartError as error:
                print(f"bench: the {title} did not start: {error}", flush=True)
                results["skipped"][name] = f"did not start ({str(error).splitlines()[0]})"
                failed = True
                continue
            titles[name] = (title, description)
        measured = measure(started, senders, args) if started else {}
    for name, figures in measured.items():
        title, description = titles[name]
        results["profiles"][name] = {"title": title, "description": description, **figures}
        failed = failed or figures["curve_errors"] > 0
        failed = failed or any(run["errors"] for run in figures["runs"].values())
    results["load_after"] = f"{os.getloadavg()[0]:.1f}"
    results["ratios"] = ratios(results["profiles"], senders)
    write_reports(results, args.out)
    print(chart.text_chart(results["profiles"], senders))
    print(
        "bench: prod/single turns/s "
        + ", ".join(
            f"{_text(results['ratios'].get(f'prod_over_single_{n}'))} at {n} senders"
            for n in senders
        )
        + "; turn 400/turn 10 "
        + ", ".join(
            f"{name} {_text(results['ratios'].get(f'{name}_turn400_over_turn10'))}"
            for name in (SINGLE, PROD)
        )
        + f" -> {args.out / 'summary.md'}"
    )
    return EXIT_FAILED if failed else EXIT_OK


def _text(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def write_reports(results: dict[str, Any], out: Path) -> None:
    """bench.json, summary.md and chart.svg in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    (out / "summary.md").write_text(render(results), encoding="utf-8")
    caption = f"{results['date']} · {results['cores']} cores · commit {results['commit']}"
    (out / "chart.svg").write_text(
        chart.svg(results["profiles"], results["senders"], caption), encoding="utf-8"
    )


if __name__ == "__main__":
    sys.exit(main())
