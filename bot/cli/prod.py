"""``posbot prod start|stop|status``: the production profile on this host.

``start`` runs in the foreground (Ctrl-C or ``posbot prod stop`` ends it): it migrates the
case store, checks the tracker and lock stores, then starts two action servers, two Rasa
servers and nginx on 127.0.0.1, restarting any process that exits.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Final

from bot.prod.settings import (
    DEFAULT_BASE_PORT,
    DEFAULT_MODEL,
    DEFAULT_STATE_DIR,
    ProdSettings,
)

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
STOP_WAIT_SECONDS: Final = 60


class _StopRequested(Exception):
    """SIGTERM or SIGINT arrived."""


def _raise_stop(signum: int, _frame: object) -> None:
    raise _StopRequested(signal.Signals(signum).name)


def settings_from(args: argparse.Namespace) -> ProdSettings:
    """Settings from the command line and the environment."""
    return ProdSettings.from_env(
        base_port=args.base_port,
        state_dir=Path(args.state_dir),
        model=Path(getattr(args, "model", DEFAULT_MODEL)),
    )


def start(args: argparse.Namespace) -> int:
    """Starts the profile and supervises it until stopped."""
    from bot.channels.rate_limit import RateLimitConfigError
    from bot.prod import preflight
    from bot.prod.config_files import write_config_files
    from bot.prod.supervisor import Supervisor, children, supervisor_pid
    from bot.runtime import bot_environment
    from bot.server_secrets import ACTIONS_SECRET_ENV
    from bot.settings import RateLimit

    settings = settings_from(args)
    try:
        RateLimit.parse(settings.rate_limit)
    except RateLimitConfigError as error:
        print(f"posbot prod: {error}")
        return EXIT_FAILED
    if shutil.which("nginx") is None:
        print("posbot prod: nginx is not installed (apt-get install nginx)")
        return EXIT_FAILED
    if not settings.model.exists():
        print(f"posbot prod: no trained model at {settings.model}; run `make run-prod`")
        return EXIT_FAILED
    if supervisor_pid(settings) is not None:
        print(f"posbot prod: already running (pid file {settings.pid_file})")
        return EXIT_FAILED
    try:
        processes = children(settings)
    except ValueError as error:  # POSBOT_TIER_PREFIXES is not a JSON object of prefixes
        print(f"posbot prod: {error}")
        return EXIT_FAILED
    signal.signal(signal.SIGINT, _raise_stop)
    signal.signal(signal.SIGTERM, _raise_stop)
    env = bot_environment()  # with the session and actions secrets every child shares
    write_config_files(settings, env[ACTIONS_SECRET_ENV])
    settings.pid_file.write_text(str(os.getpid()), encoding="utf-8")
    supervisor = Supervisor(settings, processes)
    try:
        print("posbot prod: checking the stores", flush=True)
        preflight.migrate_case_store(settings, env)
        preflight.check_tracker_store(settings)
        preflight.check_lock_store(settings)
        preflight.check_code_table()
        print("posbot prod: starting 2 action servers, 2 Rasa servers, nginx", flush=True)
        supervisor.start_all()
        print(
            f"\n  POS机解除停用助手 (production profile) on http://127.0.0.1:{settings.public_port}\n"
            f"  logs: {settings.logs_dir}/    stop: Ctrl-C or `make stop-prod`\n",
            flush=True,
        )
        supervisor.watch()
        return EXIT_OK
    except (_StopRequested, KeyboardInterrupt):
        print("posbot prod: stopping", flush=True)
        return EXIT_OK
    except (preflight.PreflightError, RuntimeError) as error:
        print(f"posbot prod: {error}", flush=True)
        return EXIT_FAILED
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        supervisor.stop_all()
        settings.pid_file.unlink(missing_ok=True)
        print("posbot prod: stopped", flush=True)


def stop(args: argparse.Namespace) -> int:
    """Asks a running profile to stop and waits until it has."""
    from bot.prod.supervisor import supervisor_pid

    settings = settings_from(args)
    pid = supervisor_pid(settings)
    if pid is None:
        print("posbot prod: not running")
        return EXIT_OK
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_WAIT_SECONDS
    while time.monotonic() < deadline:
        # The supervisor removes its pid file once every child has stopped.
        if supervisor_pid(settings) is None:
            print("posbot prod: stopped")
            return EXIT_OK
        time.sleep(0.2)
    print(f"posbot prod: pid {pid} still running after {STOP_WAIT_SECONDS}s")
    return EXIT_FAILED


def _healthy(url: str, pid: int | None = None) -> bool:
    """Whether ``url`` answers 200; a process without one (the notification worker): alive."""
    if not url:
        try:
            os.kill(pid or 0, 0)
        except OSError:
            return False
        return bool(pid)
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def status(args: argparse.Namespace) -> int:
    """Prints each process with its health; exit 0 when all are healthy."""
    settings = settings_from(args)
    try:
        state = json.loads(settings.state_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        print("posbot prod: not running")
        return EXIT_FAILED
    healthy = True
    for name, entry in state.items():
        ok = _healthy(entry["health"], entry["pid"])
        healthy = healthy and ok
        word = "ok" if ok else "DOWN"
        print(f"{name:10} pid {entry['pid']}  {word}  restarts {entry['restarts']}")
    return EXIT_OK if healthy else EXIT_FAILED


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Adds ``prod start|stop|status`` to the ``posbot`` parser."""
    prod = commands.add_parser("prod", help="production profile: 2 Rasa + 2 action servers, nginx")
    prod_commands = prod.add_subparsers(dest="prod_command", required=True)
    for name, run, text in (
        ("start", start, "start in the foreground (PostgreSQL, Redis, nginx)"),
        ("stop", stop, "stop a running profile"),
        ("status", status, "health of every process"),
    ):
        command = prod_commands.add_parser(name, help=text)
        command.add_argument("--base-port", type=int, default=DEFAULT_BASE_PORT)
        command.add_argument("--state-dir", default=str(DEFAULT_STATE_DIR))
        if name == "start":
            command.add_argument("--model", default=str(DEFAULT_MODEL))
        command.set_defaults(run=run)
