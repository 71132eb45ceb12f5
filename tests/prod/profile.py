"""The production profile started by the tests: `posbot prod start` as a child process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from bot.channels.sessions import SESSION_HEADER
from tests.conftest import ROOT

START_TIMEOUT_SECONDS = 420
STOP_TIMEOUT_SECONDS = 60


@dataclass
class Reply:
    """One answer of the REST channel."""

    status: int
    messages: list[dict]
    seconds: float
    degraded: str | None

    @property
    def text(self) -> str:
        """All reply texts, one per line."""
        return "\n".join(m.get("text", "") for m in self.messages)


class Profile:
    """Starts, stops and talks to one production profile."""

    def __init__(self, base_port: int, state_dir: Path, env: dict[str, str]) -> None:
        self.base_port = base_port
        self.state_dir = state_dir
        self.env = env
        self.process: subprocess.Popen | None = None
        self._output = None
        self.tokens: dict[str, str] = {}  # session token of each REST conversation

    @property
    def args(self) -> list[str]:
        """The options naming this profile."""
        return ["--base-port", str(self.base_port), "--state-dir", str(self.state_dir)]

    def start(self) -> None:
        """Starts the profile and waits until nginx and every server are up."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._output = (self.state_dir / "supervisor.out").open("a", encoding="utf-8")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli.main", "prod", "start", *self.args],
            cwd=ROOT,
            env=self.env,
            stdout=self._output,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"profile exited: {self.output()[-3000:]}")
            if "nginx" in self.pids() and self.status() == 0:
                return
            time.sleep(1)
        raise AssertionError(f"profile did not start: {self.output()[-3000:]}")

    def status(self) -> int:
        """Exit code of ``posbot prod status`` (0: every process healthy)."""
        return subprocess.run(
            [sys.executable, "-m", "bot.cli.main", "prod", "status", *self.args],
            cwd=ROOT, env=self.env, capture_output=True, check=False,
        ).returncode  # fmt: skip

    def stop(self) -> int:
        """``posbot prod stop``; returns the supervisor's exit code."""
        subprocess.run(
            [sys.executable, "-m", "bot.cli.main", "prod", "stop", *self.args],
            cwd=ROOT, env=self.env, capture_output=True, check=True,
            timeout=STOP_TIMEOUT_SECONDS + 10,
        )  # fmt: skip
        assert self.process is not None
        code = self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        self._output.close()
        return code

    def kill(self) -> None:
        """Last resort when a test failed half-way."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def pids(self) -> dict[str, int]:
        """PIDs of the supervised processes by name."""
        try:
            state = json.loads((self.state_dir / "processes.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return {name: entry["pid"] for name, entry in state.items()}

    def output(self) -> str:
        """What the supervisor printed."""
        return (self.state_dir / "supervisor.out").read_text(encoding="utf-8", errors="replace")

    def log(self, name: str) -> str:
        """A process's log file (``rasa-1``, ``nginx-access``...)."""
        path = self.state_dir / "logs" / f"{name}.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def say(self, sender: str, message: str, timeout: float = 70, port: int = 0) -> Reply:
        """Sends one message through nginx (``port``: straight to the server on that port)."""
        body = json.dumps({"sender": sender, "message": message}).encode("utf-8")
        request_headers = {"Content-Type": "application/json"}
        if sender in self.tokens:
            request_headers[SESSION_HEADER] = self.tokens[sender]
        request = urllib.request.Request(
            f"http://127.0.0.1:{port or self.base_port}/webhooks/rest/webhook",
            data=body,
            headers=request_headers,
        )
        started = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                payload = response.read()
                status, headers = response.status, response.headers
        except urllib.error.HTTPError as error:
            payload, status, headers = error.read(), error.code, error.headers
        seconds = time.monotonic() - started
        if headers.get(SESSION_HEADER):
            self.tokens[sender] = headers[SESSION_HEADER]
        try:
            messages = json.loads(payload.decode("utf-8"))
        except ValueError:
            messages = [{"text": payload.decode("utf-8", "replace")}]
        return Reply(status, messages, seconds, headers.get("X-Posbot-Degraded"))


def alive(pid: int) -> bool:
    """Whether a process with ``pid`` exists (zombies of ours excluded by the wait)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
