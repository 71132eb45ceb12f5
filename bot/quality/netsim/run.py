"""`make bench-net`: the production profile across simulated hosts, at several round trips.

Builds the namespaces, starts private PostgreSQL and Redis and the profile's processes in
them, then for each round-trip time: sets the delay, warms up, runs the load generator host
and reads the relays' counters, ``pg_stat_statements`` and Redis ``INFO commandstats``.
Everything it made is removed on the way out (also on Ctrl-C, SIGTERM or failure).
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import signal
import sys
import tempfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Final

from bot.quality.netsim.network import (
    build,
    missing_requirement,
    netem_problem,
    run_all,
    sweep_stale,
    teardown,
)
from bot.quality.netsim.report import (
    RttResult,
    RunInfo,
    counter_delta,
    parse_commandstats,
    parse_statements,
    render,
    render_skip,
)
from bot.quality.netsim.services import (
    DATABASE,
    Tiers,
    find_postgres_bin,
    netsim_settings,
    write_configs,
)
from bot.quality.netsim.topology import LOADGEN, NGINX, Topology, netem_commands, plan
from bot.runtime import bot_environment
from bot.server_secrets import ACTIONS_SECRET_ENV
from load.journal import read_journal
from load.scenario import CONVERSATION
from load.stats import run_stats

TOOLS: Final = ("nginx", "redis-server", "redis-cli", "psql", "pg_isready", "curl", "setpriv")
DEFAULT_RTTS: Final = "0,0.5,2"
DEFAULT_BASE_PORT: Final = 8080
LOAD_TIMEOUT_SECONDS: Final = 900
STATEMENTS_SQL: Final = (
    "SELECT calls, regexp_replace(query, '\\s+', ' ', 'g') FROM pg_stat_statements "
    f"JOIN pg_database d ON d.oid = dbid WHERE d.datname = '{DATABASE}' ORDER BY calls DESC"
)


class _Stopped(Exception):
    """SIGTERM arrived."""


def _raise_stopped(signum: int, _frame: object) -> None:
    raise _Stopped(signal.Signals(signum).name)


def parse_rtts(text: str) -> list[float]:
    """``0,0.5,2`` -> [0.0, 0.5, 2.0]; round-trip times in ms, non-negative."""
    values = [float(part) for part in text.split(",") if part.strip()]
    if not values or any(value < 0 for value in values):
        raise argparse.ArgumentTypeError("round-trip times are non-negative ms, e.g. 0,0.5,2")
    return values


def build_parser() -> argparse.ArgumentParser:
    """Command line of ``python -m bot.quality.netsim``."""
    parser = argparse.ArgumentParser(prog="python -m bot.quality.netsim", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("reports/bench/netsim.md"))
    parser.add_argument("--rtts", type=parse_rtts, default=parse_rtts(DEFAULT_RTTS))
    parser.add_argument("--senders", type=int, default=10)
    parser.add_argument("--conversations", type=int, default=10, help="per sender, measured")
    parser.add_argument("--warmup", type=int, default=1, help="conversations per sender first")
    parser.add_argument(
        "--alone", type=int, default=5, help="conversations of one sender (latency unloaded)"
    )
    parser.add_argument("--model", type=Path, default=Path("models/posbot.tar.gz"))
    parser.add_argument("--base-port", type=int, default=DEFAULT_BASE_PORT)
    parser.add_argument("--keep", action="store_true", help="keep the logs' folder")
    return parser


def _load(tiers: Tiers, topology: Topology, run_id: str, senders: int,
          conversations: int) -> Path:  # fmt: skip
    journal = tiers.workdir / f"{run_id}.jsonl"
    url = f"http://{topology.host(NGINX).address}:{tiers.settings.public_port}"
    tiers.run_in(
        LOADGEN,
        [sys.executable, "-m", "bot.quality.netsim.driver", "--url", url, "--senders",
         str(senders), "--conversations", str(conversations), "--run-id", run_id,
         "--journal", str(journal)],
        cwd=Path.cwd(), timeout=LOAD_TIMEOUT_SECONDS,
    )  # fmt: skip
    return journal


def measure(tiers: Tiers, topology: Topology, args: argparse.Namespace, netem: bool,
            rtt: float, seq: int) -> RttResult:  # fmt: skip
    """Sets the round trip, warms up, runs the measured load and reads every counter."""
    one_way = 0.0 if netem else rtt / 2
    if netem:
        run_all(netem_commands(topology, rtt))
    tag = f"r{round(rtt * 10):02d}"
    tiers.relay_snapshot(one_way, seq)
    if args.warmup:
        _load(tiers, topology, f"netsim-{tag}-warm", args.senders, args.warmup)
    tiers.psql(DATABASE, "SELECT pg_stat_statements_reset()")
    tiers.redis("CONFIG", "RESETSTAT")
    before = tiers.relay_snapshot(one_way, seq + 1)
    cpu_before = tiers.relay_cpu_seconds()
    journal = _load(tiers, topology, f"netsim-{tag}", args.senders, args.conversations)
    after = tiers.relay_snapshot(one_way, seq + 2)
    cpu = tiers.relay_cpu_seconds() - cpu_before
    stats = run_stats(read_journal(journal), len(CONVERSATION))
    statements = parse_statements(tiers.psql(DATABASE, STATEMENTS_SQL))
    commands = parse_commandstats(tiers.redis("INFO", "commandstats"))
    alone = None
    if args.alone:
        alone_journal = _load(tiers, topology, f"netsim-{tag}-alone", 1, args.alone)
        alone = run_stats(read_journal(alone_journal), len(CONVERSATION)).total
    result = RttResult(
        rtt_ms=rtt,
        turns=stats.total.requests,
        errors=stats.total.errors,
        p50_ms=stats.total.p50_ms,
        p95_ms=stats.total.p95_ms,
        turns_per_second=stats.turns_per_second,
        relays=counter_delta(before.relays, after.relays),
        statements=statements,
        redis_commands=commands,
        relay_cpu_seconds=cpu,
        clients={
            relay: counter_delta(before.clients.get(relay, {}), by_host)
            for relay, by_host in after.clients.items()
        },
        alone_p50_ms=alone.p50_ms if alone else None,
        alone_p95_ms=alone.p95_ms if alone else None,
    )
    problems = "; ".join(f"{count}× {text}" for text, count in stats.problems)
    print(
        f"RTT {rtt:g} ms: one sender p50 {alone.p50_ms if alone else 0:.1f} ms; "
        f"{result.turns} turns, p50 {result.p50_ms:.1f} ms, p95 "
        f"{result.p95_ms:.1f} ms, {result.turns_per_second:.1f} turns/s, {result.errors} errors"
        f"{' (' + problems + ')' if problems else ''}; DB+Redis round trips/turn "
        f"{result.store_round_trips:.2f}",
        flush=True,
    )
    return result


def simulate(args: argparse.Namespace, workdir: Path) -> tuple[list[RttResult], str]:
    """Builds the hosts, runs every round-trip time, removes everything it made."""
    stale = sweep_stale()
    if stale:
        print(f"bench-net: removed namespaces of dead runs: {', '.join(stale)}", flush=True)
    topology = plan(os.getpid())
    settings = netsim_settings(topology, workdir / "state", args.model, args.base_port)
    tiers = Tiers(topology, workdir, settings)
    build(topology)
    try:
        problem = netem_problem(topology)
        delay = (
            "`tc netem` on the bridge's ports, half the round trip each way"
            if problem is None
            else f"{problem}, so the relay in front of each server holds each direction for "
            "half the round trip (and a new connection's first request for one more round "
            "trip, its handshake)"
        )
        print(f"bench-net: hosts {', '.join(h.name for h in topology.hosts)}; {delay}", flush=True)
        tiers.start_postgres()
        tiers.seed(args.senders)
        tiers.start_redis()
        write_configs(topology, settings, bot_environment()[ACTIONS_SECRET_ENV])
        tiers.start_relays(0.0)
        tiers.start_profile()
        results = [
            measure(tiers, topology, args, problem is None, rtt, 10 * (index + 1))
            for index, rtt in enumerate(args.rtts)
        ]
        return results, delay
    finally:
        tiers.stop()
        teardown(topology.namespaces)


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the simulation (or writes why it is skipped); 1 when it failed."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    command = shlex.join(["python", "-m", "bot.quality.netsim", *argv])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    problem = missing_requirement(TOOLS)
    if problem is None and find_postgres_bin("initdb") is None:
        problem = "PostgreSQL's server binaries are missing (/usr/lib/postgresql/*/bin/initdb)"
    if problem is None and not args.model.exists():
        problem = f"no trained model at {args.model} (make models/posbot.tar.gz)"
    if problem:
        args.out.write_text(render_skip(problem, command), encoding="utf-8")
        print(f"bench-net: skipped: {problem}", flush=True)
        return 0
    signal.signal(signal.SIGTERM, _raise_stopped)
    workdir = Path(tempfile.mkdtemp(prefix="posbot-netsim-"))
    workdir.chmod(0o755)  # PostgreSQL runs as postgres inside it
    load_before = f"{os.getloadavg()[0]:.1f}"
    started = datetime.now().astimezone().isoformat(timespec="seconds")
    failed = True
    try:
        results, delay = simulate(args, workdir)
        failed = False
    except (KeyboardInterrupt, _Stopped):
        failed = False  # nothing to look into: the folder goes too
        print("bench-net: interrupted; everything it started is stopped", file=sys.stderr)
        return 1
    except Exception as error:
        print(f"bench-net: failed: {error} (logs: {workdir})", file=sys.stderr)
        return 1
    finally:
        if not (failed or args.keep):
            shutil.rmtree(workdir, ignore_errors=True)
    info = RunInfo(
        date=started,
        delay=delay,
        senders=args.senders,
        conversations=args.conversations,
        turns_per_conversation=len(CONVERSATION),
        load_average=f"{load_before} / {os.getloadavg()[0]:.1f}",
        command=command,
    )
    args.out.write_text(render(info, results), encoding="utf-8")
    print(args.out.read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
