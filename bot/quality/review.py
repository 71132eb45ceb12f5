"""`posbot review`: groups the messages the bot missed so a person can turn them into data,
and lists the answers merchants most often marked not helpful (with masked examples)."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from bot.services.feedback import HELPFUL, NOT_HELPFUL
from bot.services.miss_groups import MAX_EXAMPLES_PER_GROUP, MissGroup, group_misses
from bot.store.feedback import FeedbackRepository, UnhelpfulAnswer
from bot.store.models import NluMiss
from bot.store.repositories import NluMissRepository

# The clustering lives in bot.services.miss_groups (the console uses it too).
__all__ = [
    "MAX_EXAMPLES_PER_GROUP",
    "MissGroup",
    "group_misses",
    "load_misses",
    "one_line",
    "spreadsheet_safe",
    "write_worksheet",
]

# A cell starting with one of these is a formula to Excel, WPS and LibreOffice (CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n")


def spreadsheet_safe(value: str) -> str:
    """A text cell that a spreadsheet shows as text: a formula-like value gets a leading ``'``.

    Users' messages end up in ``review.csv``; ``=cmd|' /C calc'!A0`` must not run when an
    operator opens the worksheet.
    """
    return f"'{value}" if value.startswith(FORMULA_PREFIXES) else value


def one_line(value: str) -> str:
    """A message as one line of the worksheet's YAML block: line breaks and control
    characters become spaces, so a message can never add lines (or intents) of its own."""
    return " ".join("".join(c if c.isprintable() else " " for c in value).split())


def load_misses(session: Session, since: datetime | None = None) -> list[NluMiss]:
    """The recorded misses, oldest first (recorded by :mod:`bot.services.misses`)."""
    return NluMissRepository(session).since(since)


def write_worksheet(groups: Sequence[MissGroup], out: Path) -> tuple[Path, Path]:
    """review.md (ready-to-paste NLU YAML per group) and review.csv (formula cells neutralised)."""
    out.mkdir(parents=True, exist_ok=True)
    markdown = ["# Messages the bot missed, grouped", ""]
    for number, group in enumerate(groups, 1):
        markdown += [
            f"## {number}. {group.size} messages, {group.conversations} conversations — "
            f"suggested intent `{group.suggested_intent}`",
            "",
            "```yaml",
            f"- intent: {group.suggested_intent}",
            "  examples: |",
            *(f"    - {one_line(example)}" for example in group.examples),
            "```",
            "",
        ]
    md_path = out / "review.md"
    md_path.write_text("\n".join(markdown), encoding="utf-8")
    csv_path = out / "review.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["group", "size", "conversations", "suggested_intent", "example"])
        for number, group in enumerate(groups, 1):
            for example in group.examples:
                writer.writerow(
                    [
                        number,
                        group.size,
                        group.conversations,
                        spreadsheet_safe(group.suggested_intent),
                        spreadsheet_safe(one_line(example)),
                    ]
                )
    return md_path, csv_path


# --- answer feedback (issue 13) ---


def load_unhelpful(session: Session, limit: int = 10) -> list[UnhelpfulAnswer]:
    """The answers merchants most often marked "没帮助" (``answer_feedback``), most first."""
    return FeedbackRepository(session).unhelpful_answers(
        limit=limit, not_helpful=NOT_HELPFUL, helpful=HELPFUL
    )


def write_unhelpful(answers: Sequence[UnhelpfulAnswer], out: Path) -> Path:
    """unhelpful.md: each answer with its 没帮助/有帮助 counts and masked example messages."""
    out.mkdir(parents=True, exist_ok=True)
    lines = ["# Answers marked not helpful", ""]
    if not answers:
        lines.append("No answer has been marked not helpful.")
    for number, answer in enumerate(answers, 1):
        lines += [
            f"## {number}. `{answer.response}` (intent `{answer.intent}`): "
            f"{answer.not_helpful} not helpful, {answer.helpful} helpful",
            "",
            *(f"- {one_line(example)}" for example in answer.examples),
            "",
        ]
    path = out / "unhelpful.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
