"""The supervisor's health checks of running children: a hung one is killed, a starting one is
left alone."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import runtime
from bot.prod.settings import ProdSettings
from bot.prod.supervisor import LIVENESS_FAILURES, Child, Supervisor, answers

URL = "http://127.0.0.1:9/health"


class Answers:
    """A health check whose answers the test sets."""

    def __init__(self) -> None:
        self.up = True
        self.asked: list[str] = []

    def __call__(self, url: str) -> bool:
        self.asked.append(url)
        return self.up


@pytest.fixture
def children(tmp_path: Path) -> Iterator[list[Child]]:
    made = []
    for name, url in (("rasa-1", URL), ("notify", None)):
        spec = runtime.ProcessSpec(name, "rasa", (sys.executable, "-c", "input()"), health_url=url)
        child = Child(spec, tmp_path / f"{name}.log")
        child.process = subprocess.Popen(spec.command, stdin=subprocess.PIPE)
        made.append(child)
    yield made
    for child in made:
        assert child.process is not None
        child.process.kill()
        child.process.wait()


def _supervisor(tmp_path: Path, children: list[Child], check: Answers) -> Supervisor:
    return Supervisor(ProdSettings(state_dir=tmp_path), children, check=check)


def test_a_child_that_stops_answering_is_killed_after_the_last_allowed_miss(
    tmp_path: Path, children: list[Child]
) -> None:
    check = Answers()
    supervisor = _supervisor(tmp_path, children, check)
    rasa, notify = children

    assert supervisor.check_liveness() == []
    assert rasa.answered and check.asked == [URL]  # no health URL: never asked
    check.up = False
    for missed in range(1, LIVENESS_FAILURES):
        assert supervisor.check_liveness() == []
        assert rasa.missed == missed and rasa.process.poll() is None  # type: ignore[union-attr]

    assert supervisor.check_liveness() == ["rasa-1"]
    assert rasa.process.wait(timeout=5) == -9  # type: ignore[union-attr]
    assert notify.process.poll() is None  # type: ignore[union-attr]
    assert (rasa.answered, rasa.missed) == (False, 0)
    assert supervisor.check_liveness() == []  # exited: watch() restarts it


def test_an_answer_between_misses_starts_the_count_again(
    tmp_path: Path, children: list[Child]
) -> None:
    check = Answers()
    supervisor = _supervisor(tmp_path, children, check)
    supervisor.check_liveness()
    for _ in range(3):
        check.up = False
        for _ in range(LIVENESS_FAILURES - 1):
            assert supervisor.check_liveness() == []
        check.up = True
        assert supervisor.check_liveness() == []
    assert children[0].missed == 0 and children[0].process.poll() is None  # type: ignore[union-attr]


def test_a_child_that_never_answered_is_still_starting(
    tmp_path: Path, children: list[Child]
) -> None:
    check = Answers()
    check.up = False  # e.g. a restarted Rasa server loading its model
    supervisor = _supervisor(tmp_path, children, check)
    for _ in range(LIVENESS_FAILURES * 3):
        assert supervisor.check_liveness() == []
    assert children[0].missed == 0 and children[0].process.poll() is None  # type: ignore[union-attr]


def test_nothing_listening_does_not_answer() -> None:
    assert answers(URL, timeout=1) is False


def test_each_rasa_server_issues_tokens_with_its_own_routing_hint(tmp_path: Path) -> None:
    from bot.prod import supervisor

    started = supervisor.children(ProdSettings(state_dir=tmp_path), wrap=lambda spec: spec)
    hints = {
        child.spec.name: child.spec.env.get("POSBOT_SESSION_ROUTE")
        for child in started
        if child.spec.tier == runtime.RASA
    }
    assert hints == {"rasa-1": "r1", "rasa-2": "r2"}
    others = [child for child in started if child.spec.tier != runtime.RASA]
    assert others and all("POSBOT_SESSION_ROUTE" not in child.spec.env for child in others)
