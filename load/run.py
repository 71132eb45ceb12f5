"""`make load` / `make load-prod`: runs the locust scenario and writes the results file.

Default profile: starts one action server and one Rasa server (what ``posbot serve`` starts,
plus Rasa's HTTP API behind a random token to read the in-memory trackers back) on
127.0.0.1:5500/5501 with a fresh SQLite case store in ``var/load/default/``, runs locust
headless, checks the trackers, stops the servers.

Production profile (``--url``): loads a running server (nginx of ``make run-prod``), seeds
the load merchants into ``--case-db-url`` and reads the trackers from ``--tracker-db-url``
(Rasa's SQL tracker store) or, with ``--api-token``, over the HTTP API.

Examples:
    python -m load.run default --out load/results/default.md
    python -m load.run prod --url http://127.0.0.1:5510 \\
        --case-db-url postgresql://postgres@127.0.0.1:5432/posbot_load \\
        --tracker-db-url postgresql://postgres@127.0.0.1:5432/posbot_load \\
        --out load/results/prod.md
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shlex
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Final

from bot.cli.serve import (
    action_server_command,
    bot_environment,
    endpoints_for,
    rasa_server_command,
    wait_until_ready,
)
from bot.clock import china_now
from bot.store.database import CaseStore
from load.events import EventCheck, check_events
from load.journal import read_journal
from load.loopback import is_loopback
from load.merchants import load_merchants
from load.report import RunInfo, render
from load.scenario import CONVERSATION
from load.seed import seed_load_merchants
from load.stats import run_stats
from load.trackers import api_user_events, sql_user_events

ROOT: Final = Path(__file__).resolve().parent.parent
WORK_DIR: Final = Path("var/load")
MODEL: Final = "models/posbot.tar.gz"
DEFAULT_PORT: Final = 5500
DEFAULT_ACTIONS_PORT: Final = 5501
READY_SECONDS: Final = 240
EXTRA_SECONDS: Final = 180
DB_URL_ENV: Final = "POSBOT_DB_URL"
EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_BAD_INPUT: Final = 2


@dataclass(frozen=True)
class Bounds:
    """What limits one run: users, spawn rate, time and requests."""

    users: int
    spawn_rate: float
    run_time: int
    max_requests: int
    think_time: float
    stop_timeout: int
    seed: int


def locust_command(url: str, bounds: Bounds, journal: Path, run_id: str, csv: Path) -> list[str]:
    """Headless locust (no web UI) with every bound on the command line."""
    return [
        str(Path(sys.executable).with_name("locust")),
        "-f",
        "load/locustfile.py",
        "--headless",
        "--host",
        url,
        "--users",
        str(bounds.users),
        "--spawn-rate",
        str(bounds.spawn_rate),
        "--run-time",
        f"{bounds.run_time}s",
        "--stop-timeout",
        str(bounds.stop_timeout),
        "--max-requests",
        str(bounds.max_requests),
        "--think-time",
        str(bounds.think_time),
        "--seed",
        str(bounds.seed),
        "--merchants",
        str(bounds.users),
        "--run-id",
        run_id,
        "--journal",
        str(journal),
        "--csv",
        str(csv),
        "--only-summary",
        "--exit-code-on-error",
        "0",
    ]


def run_locust(command: list[str], log: Path, timeout: float) -> int:
    """Runs locust in its own process (gevent patches everything it imports)."""
    env = {**bot_environment(), "PYTHONPATH": str(ROOT)}
    with log.open("w", encoding="utf-8") as output:
        return subprocess.run(
            command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, timeout=timeout
        ).returncode


def _stop(processes: Sequence[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def fresh_store(path: Path, merchants: int) -> CaseStore:
    """A new SQLite case store at ``path``: schema, demo data and the load merchants."""
    from bot.store.migrate import upgrade
    from bot.store.seed import seed_demo_data

    path.unlink(missing_ok=True)
    store = CaseStore(f"sqlite:///{path}")
    upgrade(store)
    now = china_now()
    seed_demo_data(store, now)
    seed_load_merchants(store, load_merchants(merchants), now)
    return store


@contextlib.contextmanager
def default_profile(workdir: Path, port: int, actions_port: int, token: str) -> Iterator[str]:
    """The single-process default (one Rasa, one action server, in-memory trackers)."""
    env = {**bot_environment(), DB_URL_ENV: f"sqlite:///{workdir / 'cases.db'}"}
    logs = [(workdir / name).open("w", encoding="utf-8") for name in ("actions.log", "rasa.log")]
    processes: list[subprocess.Popen] = []
    try:
        actions = subprocess.Popen(
            action_server_command(actions_port), cwd=ROOT, env=env, stdout=logs[0],
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        processes.append(actions)
        if not wait_until_ready(f"http://127.0.0.1:{actions_port}/health", actions, 90):
            raise RuntimeError(f"the action server did not start: see {logs[0].name}")
        command = rasa_server_command(MODEL, port, endpoints_for(actions_port))
        rasa = subprocess.Popen(
            [*command, "--enable-api", "--auth-token", token], cwd=ROOT, env=env,
            stdout=logs[1], stderr=subprocess.STDOUT,
        )  # fmt: skip
        processes.append(rasa)
        url = f"http://127.0.0.1:{port}"
        if not wait_until_ready(f"{url}/", rasa, READY_SECONDS):
            raise RuntimeError(f"the Rasa server did not start: see {logs[1].name}")
        yield url
    finally:
        _stop(processes)
        for log in logs:
            log.close()


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m load.run``."""
    parser = argparse.ArgumentParser(prog="python -m load.run", description=__doc__.splitlines()[0])
    parser.add_argument("profile", choices=("default", "prod"))
    parser.add_argument("--out", type=Path, required=True, help="the results file (Markdown)")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--spawn-rate", type=float, default=5)
    parser.add_argument("--run-time", type=int, default=60, help="seconds")
    parser.add_argument("--max-requests", type=int, default=3000)
    parser.add_argument("--think-time", type=float, default=1.0, help="mean seconds between turns")
    parser.add_argument("--stop-timeout", type=int, default=60, help="seconds to finish a turn")
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="default profile")
    parser.add_argument("--actions-port", type=int, default=DEFAULT_ACTIONS_PORT)
    parser.add_argument("--url", help="a running bot on 127.0.0.1 (production profile)")
    parser.add_argument("--case-db-url", help="case store to seed the load merchants into")
    parser.add_argument("--tracker-db-url", help="Rasa SQL tracker store to read events from")
    parser.add_argument("--api-token", help="token of Rasa's HTTP API (instead of the SQL store)")
    return parser


def _check_arguments(args: argparse.Namespace) -> str | None:
    if args.users < 1 or args.users > 1000 or args.spawn_rate <= 0:
        return "--users must be 1..1000 and --spawn-rate positive"
    if args.run_time < 1 or args.max_requests < len(CONVERSATION):
        return "--run-time must be positive and --max-requests at least one conversation"
    if args.profile == "prod":
        if not args.url or not is_loopback(args.url):
            return "--url must be a running bot on http://127.0.0.1:PORT"
        if not (args.tracker_db_url or args.api_token):
            return "give --tracker-db-url or --api-token to read the conversations back"
    return None


def _description(args: argparse.Namespace) -> str:
    if args.profile == "default":
        return (
            "Single-process default (`posbot serve` processes): one Rasa server and one action "
            f"server on 127.0.0.1:{args.port}/{args.actions_port}, in-memory tracker store, "
            "fresh SQLite case store; Rasa's HTTP API is enabled (random token) to read the "
            "trackers back."
        )
    return (
        f"Production profile (`make run-prod`) through nginx at {args.url}: PostgreSQL case "
        "and tracker stores, Redis lock store, two Rasa and two action server processes."
    )


def _load_average() -> str:
    return f"{os.getloadavg()[0]:.1f}"


def _relative(path: str) -> str:
    with contextlib.suppress(ValueError):
        return str(Path(path).relative_to(ROOT))
    return path


def main(argv: Sequence[str] | None = None) -> int:
    """Runs one load test and writes its results file; 1 when anything was wrong."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    problem = _check_arguments(args)
    if problem:
        print(f"load: {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    os.chdir(ROOT)
    bounds = Bounds(
        users=args.users,
        spawn_rate=args.spawn_rate,
        run_time=args.run_time,
        max_requests=args.max_requests,
        think_time=args.think_time,
        stop_timeout=args.stop_timeout,
        seed=args.seed,
    )
    workdir = WORK_DIR / args.profile
    workdir.mkdir(parents=True, exist_ok=True)
    started = datetime.now().astimezone()
    run_id = f"load-{args.profile}-{started:%Y%m%d%H%M%S}"
    journal = workdir / "journal.jsonl"
    command = locust_command(args.url or "", bounds, journal, run_id, workdir / "locust")
    timeout = bounds.run_time + bounds.stop_timeout + EXTRA_SECONDS
    load_before = _load_average()

    if args.profile == "default":
        token = secrets.token_hex(16)
        fresh_store(workdir / "cases.db", bounds.users).dispose()
        with default_profile(workdir, args.port, args.actions_port, token) as url:
            command[command.index("--host") + 1] = url
            print(f"load: {bounds.users} users against {url} for ≤ {bounds.run_time} s", flush=True)
            run_locust(command, workdir / "locust.log", timeout)
            load_after = _load_average()
            requests = read_journal(journal)
            senders = sorted({request.sender for request in requests})
            trackers = api_user_events(url, token, senders)
    else:
        if args.case_db_url:
            store = CaseStore(args.case_db_url)
            seed_load_merchants(store, load_merchants(bounds.users))
            store.dispose()
        print(
            f"load: {bounds.users} users against {args.url} for ≤ {bounds.run_time} s", flush=True
        )
        run_locust(command, workdir / "locust.log", timeout)
        load_after = _load_average()
        requests = read_journal(journal)
        if args.api_token:
            senders = sorted({request.sender for request in requests})
            trackers = api_user_events(args.url, args.api_token, senders)
        else:
            trackers = sql_user_events(args.tracker_db_url, f"{run_id}-")

    stats = run_stats(requests, len(CONVERSATION))
    events: EventCheck = check_events(requests, trackers)
    info = RunInfo(
        profile=args.profile,
        description=_description(args),
        command=shlex.join([_relative(sys.executable), "-m", "load.run", *argv]),
        locust_command=shlex.join([_relative(command[0]), *command[1:]]),
        date=started.isoformat(timespec="seconds"),
        settings={key.replace("_", " "): value for key, value in asdict(bounds).items()},
        load_average=f"{load_before} / {load_after}",
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(info, stats, events), encoding="utf-8")
    print(
        f"load: {stats.total.requests} turns, {stats.turns_per_second:.1f}/s, "
        f"p50/p95/p99 {stats.total.p50_ms:.0f}/{stats.total.p95_ms:.0f}/"
        f"{stats.total.p99_ms:.0f} ms, {stats.total.errors} errors, {events.lost} lost, "
        f"{events.duplicated} duplicated -> {args.out}"
    )
    return EXIT_OK if stats.total.errors == 0 and events.clean else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
