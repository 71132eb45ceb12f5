"""`make load` / `make load-prod`: runs the locust scenario and writes the results file.

``default``: starts what ``posbot serve`` starts (one Rasa server, one action server,
SQLite trackers; plus Rasa's HTTP API behind a random token to read the trackers back) on
127.0.0.1:5500/5501 with a fresh SQLite case store in ``var/load/default/``.

``prod``: starts the production profile (``posbot prod start``: nginx on 127.0.0.1:5510, two
Rasa and two action servers, PostgreSQL case and tracker stores in the load test's own database
``posbot_load``, recreated for each run, Redis lock store). With ``--url`` it loads a profile
that is already running instead, seeding ``--case-db-url`` and reading the trackers from
``--tracker-db-url`` (or over the HTTP API with ``--api-token``).

Then locust runs headless with every bound on its command line; the journal gives the
per-turn percentiles, turns per second and errors, the trackers the lost/duplicated messages.
Exit code 1 when there was any error or any lost, duplicated or unexpected message.

Examples:
    python -m load.run default --out load/results/default.md
    python -m load.run prod --out load/results/prod.md
    python -m load.run prod --url http://127.0.0.1:8080 \\
        --case-db-url postgresql://postgres@127.0.0.1:5432/test \\
        --tracker-db-url postgresql://postgres@127.0.0.1:5432/test --out load/results/prod.md
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

from bot.runtime import bot_environment
from bot.store.database import CaseStore
from load.events import UserEvent, check_events
from load.journal import Request, read_journal
from load.loopback import is_loopback
from load.merchants import load_merchants
from load.report import RunInfo, render
from load.scenario import CONVERSATION
from load.seed import seed_load_merchants
from load.servers import ROOT, default_profile, fresh_postgres, fresh_sqlite, prod_profile
from load.stats import run_stats
from load.trackers import api_user_events, sql_user_events

WORK_DIR: Final = Path("var/load")
DEFAULT_PORT: Final = 5500
DEFAULT_ACTIONS_PORT: Final = 5501
PROD_BASE_PORT: Final = 5510
PG_ADMIN_URL: Final = "postgresql://postgres@127.0.0.1:5432/test"
LOAD_DATABASE: Final = "posbot_load"
REDIS_URL: Final = "redis://127.0.0.1:6379/9"
EXTRA_SECONDS: Final = 180
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
        "-f", "load/locustfile.py", "--headless", "--host", url,
        "--users", str(bounds.users), "--spawn-rate", str(bounds.spawn_rate),
        "--run-time", f"{bounds.run_time}s", "--stop-timeout", str(bounds.stop_timeout),
        "--max-requests", str(bounds.max_requests), "--think-time", str(bounds.think_time),
        "--seed", str(bounds.seed), "--merchants", str(bounds.users), "--run-id", run_id,
        "--journal", str(journal), "--csv", str(csv), "--only-summary",
        "--exit-code-on-error", "0",
    ]  # fmt: skip


def run_locust(command: list[str], log: Path, timeout: float) -> int:
    """Runs locust in its own process (gevent patches everything it imports)."""
    env = bot_environment({"PYTHONPATH": str(ROOT)})
    with log.open("w", encoding="utf-8") as output:
        return subprocess.run(
            command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, timeout=timeout
        ).returncode


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
    parser.add_argument("--port", type=int, help="default: 5500 (default), 5510 (prod, nginx)")
    parser.add_argument("--actions-port", type=int, default=DEFAULT_ACTIONS_PORT)
    parser.add_argument("--url", help="load a bot already running on 127.0.0.1 (prod)")
    parser.add_argument("--case-db-url", help="with --url: case store to seed the merchants into")
    parser.add_argument("--tracker-db-url", help="with --url: Rasa's SQL tracker store")
    parser.add_argument("--api-token", help="with --url: token of Rasa's HTTP API")
    return parser


def _check_arguments(args: argparse.Namespace) -> str | None:
    if not 1 <= args.users <= 1000 or args.spawn_rate <= 0:
        return "--users must be 1..1000 and --spawn-rate positive"
    if args.run_time < 1 or args.max_requests < len(CONVERSATION):
        return "--run-time must be positive and --max-requests at least one conversation"
    if args.url is not None:
        if args.profile != "prod" or not is_loopback(args.url):
            return "--url is for the prod profile, on http://127.0.0.1:PORT only"
        if not (args.tracker_db_url or args.api_token):
            return "with --url, give --tracker-db-url or --api-token to read the trackers back"
    return None


def _description(args: argparse.Namespace, url: str) -> str:
    if args.profile == "default":
        return (
            "Single-process default (the processes of `posbot serve`): one Rasa server and one "
            f"action server ({url}, actions on :{args.actions_port}), SQLite tracker store, "
            "fresh SQLite case store; Rasa's HTTP API is enabled (random token) only to read "
            "the trackers back."
        )
    where = "already running" if args.url else f"started by the run, own database {LOAD_DATABASE}"
    return (
        f"Production profile (`posbot prod start`, {where}) through nginx at {url}: two Rasa "
        "servers and two action servers, PostgreSQL case store and SQL tracker store "
        "(redacting), Redis lock store; trackers read back from the tracker store's table."
    )


def _load_average() -> str:
    return f"{os.getloadavg()[0]:.1f}"


def _relative(path: str) -> str:
    with contextlib.suppress(ValueError):
        return str(Path(path).relative_to(ROOT))
    return path


@dataclass
class Outcome:
    """What a run produced: the journal, the trackers and the load at the end."""

    url: str = ""
    requests: list[Request] | None = None
    trackers: dict[str, list[UserEvent]] | None = None
    load_after: str = ""


@contextlib.contextmanager
def _target(args: argparse.Namespace, workdir: Path, users: int, token: str) -> Iterator[str]:
    """The URL to load: a bot this run starts, or the one given with ``--url``."""
    if args.profile == "default":
        case_db = fresh_sqlite((workdir / "cases.db").resolve(), users)
        port = args.port or DEFAULT_PORT
        with default_profile(workdir, case_db, port, args.actions_port, token) as bot:
            yield bot.url
    elif args.url:
        if args.case_db_url:
            store = CaseStore(args.case_db_url)
            seed_load_merchants(store, load_merchants(users))
            store.dispose()
        yield args.url
    else:
        args.tracker_db_url = fresh_postgres(PG_ADMIN_URL, LOAD_DATABASE, users)
        with prod_profile(
            workdir, args.tracker_db_url, REDIS_URL, args.port or PROD_BASE_PORT
        ) as bot:
            yield bot.url


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
    # No long digit runs in sender ids: the redaction must not mistake them for phone numbers.
    run_id = f"load-{args.profile}-{started:%m%d-%H%M%S}"
    journal = workdir / "journal.jsonl"
    journal.unlink(missing_ok=True)
    token = args.api_token or secrets.token_hex(16)
    load_before = _load_average()
    outcome = Outcome()
    with _target(args, workdir, bounds.users, token) as url:
        command = locust_command(url, bounds, journal, run_id, workdir / "locust")
        print(f"load: {bounds.users} users against {url} for ≤ {bounds.run_time} s", flush=True)
        run_locust(
            command, workdir / "locust.log", bounds.run_time + bounds.stop_timeout + EXTRA_SECONDS
        )
        outcome.load_after = _load_average()
        outcome.url = url
        outcome.requests = read_journal(journal) if journal.exists() else []
        senders = sorted({request.sender for request in outcome.requests})
        if args.profile == "default" or not args.tracker_db_url:
            outcome.trackers = api_user_events(url, token, senders)
        else:
            outcome.trackers = sql_user_events(args.tracker_db_url, f"{run_id}-")
    if not outcome.requests:
        print(f"load: no request was sent; see {workdir / 'locust.log'}", file=sys.stderr)
        return EXIT_FAILED
    stats = run_stats(outcome.requests, len(CONVERSATION))
    events = check_events(outcome.requests, outcome.trackers or {})
    info = RunInfo(
        profile=args.profile,
        description=_description(args, outcome.url),
        command=shlex.join([_relative(sys.executable), "-m", "load.run", *argv]),
        locust_command=shlex.join([_relative(command[0]), *command[1:]]),
        date=started.isoformat(timespec="seconds"),
        settings={key.replace("_", " "): value for key, value in asdict(bounds).items()},
        load_average=f"{load_before} / {outcome.load_after}",
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
