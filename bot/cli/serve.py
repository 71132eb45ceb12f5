"""Runs the action server and the Rasa server together; Ctrl-C stops both."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bot import runtime
from bot.operator_facts import OperatorFileError, load_operator_facts, unset_warning

DEFAULT_ACTIONS_PORT = runtime.DEFAULT_ACTIONS_PORT
ACTIONS_READY_SECONDS = 60
RASA_READY_SECONDS = 180
POLL_SECONDS = 0.5
STOP_SECONDS = 15


class _StopRequested(Exception):
    """SIGINT (Ctrl-C) or SIGTERM arrived."""


def _request_stop(signum: int, _frame: object) -> None:
    raise _StopRequested(signal.Signals(signum).name)


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


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
    problem = runtime.code_table_problem()
    if problem:
        print(f"posbot: {problem}", file=sys.stderr)
        return 1
    env = runtime.bot_environment()
    wrap = runtime.wrapper_from_env(env)
    # Handle both signals explicitly: a shell may start us with SIGINT ignored.
    signal.signal(signal.SIGINT, _request_stop)
    signal.signal(signal.SIGTERM, _request_stop)
    try:
        if shell:
            return _shell(model, actions_port, env, wrap)
        with runtime.running_bot(
            model, env=env, port=port, actions_port=actions_port, wrap=wrap,
            actions_ready_seconds=ACTIONS_READY_SECONDS, rasa_ready_seconds=RASA_READY_SECONDS,
            stop_seconds=STOP_SECONDS,
        ) as bot, _notify_worker(env, wrap) as worker:  # fmt: skip
            print(
                "\n  POS机解除停用助手 is running.\n"
                f"  REST:    curl -si localhost:{port}/webhooks/rest/webhook "
                "-H 'Content-Type: application/json' "
                '-d \'{"sender":"demo","message":"我的POS机为什么被停用"}\'\n'
                "           (send the reply's X-Posbot-Session header back with later messages)\n"
                "  Terminal chat: make shell    Stop: Ctrl-C\n",
                flush=True,
            )
            while bot.alive() and worker.alive():
                time.sleep(POLL_SECONDS)
            print("posbot: a server stopped; shutting down", file=sys.stderr)
            return 1
    except runtime.BotStartError as error:
        print(f"posbot: {error}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, _StopRequested):
        print("posbot: stopping", flush=True)
        return 0


def _notify_worker(env: dict[str, str], wrap: runtime.Wrapper | None) -> Any:
    """``posbot notify`` beside the servers (status notifications, docs/notifications.md)."""
    spec = runtime.ProcessSpec(
        name=runtime.NOTIFY, tier=runtime.NOTIFY, env=env,
        command=tuple(runtime.notify_command()), title="the notification worker",
    )  # fmt: skip
    return runtime.running_processes([[spec]], wrap=wrap, grace=STOP_SECONDS)


def _shell(model: str, actions_port: int, env: dict[str, str], wrap: runtime.Wrapper | None) -> int:
    """The action server, and ``rasa shell`` in the foreground until it ends."""
    actions = runtime.actions_spec(actions_port, env, ready_seconds=ACTIONS_READY_SECONDS)
    with runtime.running_processes([[actions]], wrap=wrap, grace=STOP_SECONDS):
        endpoints = runtime.endpoints_for(actions_port, env)
        shell = runtime.ProcessSpec(
            name=runtime.SHELL, tier=runtime.SHELL, env=env,
            command=tuple(runtime.rasa_shell_command(model, endpoints)),
        )  # fmt: skip
        command = list(runtime.wrapped(shell, wrap).command)
        return subprocess.call(command, env=env, preexec_fn=_default_sigint)
