"""``posbot report``: the console's figures printed, and written as CSV files."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli.main import EXIT_BAD_INPUT, EXIT_OK, main
from bot.services.console import FIGURES
from bot.settings import DB_URL, TRACKER_URL
from bot.store.database import CaseStore
from bot.store.migrate import upgrade
from tests.bot.services.console_data import events_engine, fill_cases, fill_events


@pytest.fixture
def configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cases_url = f"sqlite:///{tmp_path / 'cases.db'}"
    tracker_url = f"sqlite:///{tmp_path / 'tracker.db'}"
    monkeypatch.setenv(DB_URL.env, cases_url)
    monkeypatch.setenv(TRACKER_URL.env, tracker_url)
    store = CaseStore(cases_url)
    upgrade(store)
    fill_cases(store)
    store.dispose()
    fill_events(events_engine(tracker_url))


def test_report_prints_every_figure(configured: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--since", "2026-11-20", "--until", "2026-11-22"]) == EXIT_OK
    out = capsys.readouterr().out
    assert out.startswith("posbot report 2026-11-20 .. 2026-11-22 (China days)\n")
    for key, spec in FIGURES.items():
        assert f"== {spec.title} ({key}) ==" in out
    assert "total: conversations=5, messages=13" in out
    assert "total: conversations=5, contained=2, containment_rate=40.0%" in out
    assert "2026-11-21  2         0      1                    1           0      66.7%" in out


def test_report_writes_csv_files(
    configured: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "out"
    args = ["report", "--since", "2026-11-20", "--until", "2026-11-22", "--csv", str(folder)]
    assert main(args) == EXIT_OK
    assert f"{len(FIGURES)} CSV files in {folder}" in capsys.readouterr().out
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        f"{key}_2026-11-20_2026-11-22.csv" for key in FIGURES
    )
    assert (folder / "volume_2026-11-20_2026-11-22.csv").read_text(encoding="utf-8") == (
        "day,conversations,messages\n2026-11-20,3,7\n2026-11-21,3,6\n2026-11-22,0,0\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "2026/11/20"], "posbot report: since: '2026/11/20' is not a valid date"),
        (
            ["--since", "2026-11-22", "--until", "2026-11-20"],
            "posbot report: since 2026-11-22 is after until 2026-11-20",
        ),
    ],
)
def test_bad_dates_exit_2(
    configured: None, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", *args]) == EXIT_BAD_INPUT
    captured = capsys.readouterr()
    assert message in captured.err
    assert captured.out == ""
