"""Runs the action server and the Rasa server together; Ctrl-C stops both."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import yaml

from bot.operator_facts import OperatorFileError, load_operator_facts, unset_warning
from bot.server_secrets import ACTIONS_SECRET_ENV, action_endpoint, ensure_server_secrets

READY_TIMEOUT_SECONDS = 180
DEFAULT_ACTIONS_PORT = 5055
ENDPOINTS_FILE = Path("endpoints.yml")
POLL_SECONDS = 0.5


def bot_environment() -> dict[str, str]:
    """The environment of the child processes: no telemetry, no crash reports, and the
    session and actions secrets (configured, or generated into ``var/`` on first start)."""
    env = dict(os.environ)
    env["RASA_TELEMETRY_ENABLED"] = "false"
    env.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
    ensure_server_secrets(env)
    return env


def action_server_command(port: int) -> list[str]:
    """The command line of the action server (rasa-sdk behind the actions secret)."""
    return [sys.executable, "-m", "bot.actions_server", "--actions", "actions", "--port", str(port)]


def write_endpoints(
    target: Path, actions_port: int, secret: str, extra: dict | None = None
) -> Path:
    """An endpoints file (mode 0600: it holds the actions secret) for the action server on
    ``actions_port``, plus the sections in ``extra`` (tracker store, lock store)."""
    config = {
        "action_endpoint": action_endpoint(f"http://127.0.0.1:{actions_port}/webhook", secret),
        **(extra or {}),
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    target.touch(mode=0o600, exist_ok=True)
    target.chmod(0o600)
    target.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return target


def endpoints_for(actions_port: int, env: dict[str, str], source: Path = ENDPOINTS_FILE) -> Path:
    """``endpoints.yml`` pointing at the action server on ``actions_port``.

    The default port uses the file as it is (it reads the secret from the environment);
    another port gets a generated copy in ``var/``.
    """
    if actions_port == DEFAULT_ACTIONS_PORT:
        return source
    config = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    config.pop("action_endpoint", None)
    target = Path("var") / f"endpoints.{actions_port}.yml"
    return write_endpoints(target, actions_port, env[ACTIONS_SECRET_ENV], config)


def rasa_server_command(model: str, port: int, endpoints: Path = ENDPOINTS_FILE) -> list[str]:
    """The command line of the Rasa server with the REST channel (and bot.speedups)."""
    return [
        sys.executable,
        "-m",
        "bot.cli.rasa_server",
        "run",
        "--model",
        model,
        "--port",
        str(port),
        "--credentials",
        "credentials.yml",
        "--endpoints",
        str(endpoints),
    ]


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


class _StopRequested(Exception):
    """SIGINT (Ctrl-C) or SIGTERM arrived."""


def _request_stop(signum: int, _frame: object) -> None:
    raise _StopRequested(signal.Signals(signum).name)


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + 15
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def code_table_problem() -> str | None:
    """Why the response code table cannot be used, or ``None`` (checked before anything starts,
    so that an operator's typo stops the start instead of a merchant's chat)."""
    from bot.services.response_codes import CodeTableError, load_table, table_path

    try:
        load_table(table_path())
    except CodeTableError as error:
        return f"response code table {error}"
    return None


def check_operator_facts() -> bool:
    """Warns when the hotline, service hours or provider are unset; ``False`` if unreadable."""
    try:
        warning = unset_warning(load_operator_facts())
    except OperatorFileError as error:
        print(f"posbot: {error}", file=sys.stderr)
        return False
    if warning:
        print(warning, file=sys.stderr, flush=True)
    return True


def serve(model: str, shell: bool, port: int, actions_port: int) -> int:
    """Starts both servers (or the action server and ``rasa shell``) until interrupted."""
    if not check_operator_facts():
        return 2
    if not Path(model).exists():
        print(f"posbot: no trained model at {model}; run `make run` (it trains first)")
        return 1
    problem = code_table_problem()
    if problem:
        print(f"posbot: {problem}", file=sys.stderr)
        return 1
    env = bot_environment()
    # Handle both signals explicitly: a shell may start us with SIGINT ignored.
    signal.signal(signal.SIGINT, _request_stop)
    signal.signal(signal.SIGTERM, _request_stop)
    actions = subprocess.Popen(action_server_command(actions_port), env=env)
    processes = [actions]
    try:
        if not wait_until_ready(f"http://127.0.0.1:{actions_port}/health", actions, 60):
            print("posbot: the action server did not start", file=sys.stderr)
            return 1
        if shell:
            command = [
                sys.executable,
                "-m",
                "bot.cli.rasa_server",
                "shell",
                "--model",
                model,
                "--endpoints",
                "endpoints.yml",
            ]
            return subprocess.call(command, env=env, preexec_fn=_default_sigint)
        rasa = subprocess.Popen(
            rasa_server_command(model, port, endpoints_for(actions_port, env)), env=env
        )
        processes.append(rasa)
        if not wait_until_ready(f"http://127.0.0.1:{port}/", rasa, READY_TIMEOUT_SECONDS):
            print("posbot: the Rasa server did not start", file=sys.stderr)
            return 1
        print(
            "\n  POS机解除停用助手 is running.\n"
            f"  REST:    curl -si localhost:{port}/webhooks/rest/webhook "
            "-H 'Content-Type: application/json' "
            '-d \'{"sender":"demo","message":"我的POS机为什么被停用"}\'\n'
            "           (send the reply's X-Posbot-Session header back with later messages)\n"
            "  Terminal chat: make shell    Stop: Ctrl-C\n",
            flush=True,
        )
        while all(process.poll() is None for process in processes):
            time.sleep(POLL_SECONDS)
        print("posbot: a server stopped; shutting down", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, _StopRequested):
        print("posbot: stopping", flush=True)
        return 0
    finally:
        _stop(processes)
