"""``posbot report``: the console's figures as text tables, and as CSV files on request."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bot.services.console import Figure, Period, figure_csv


def _cell(column: str, value: object) -> str:
    if isinstance(value, float) and column.endswith(("_rate", "share")):
        return f"{value:.1%}"
    return str(value.isoformat() if hasattr(value, "isoformat") else value)


def format_figure(result: Figure) -> str:
    """One figure as an aligned text table with its range totals underneath."""
    rows = [list(result.columns)] + [
        [_cell(column, value) for column, value in zip(result.columns, row, strict=True)]
        for row in result.rows
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(result.columns))]
    lines = [f"== {result.title} ({result.key}) =="]
    lines += [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    if result.totals:
        lines.append("total: " + ", ".join(f"{k}={_cell(k, v)}" for k, v in result.totals.items()))
    return "\n".join(lines)


def format_report(period: Period, figures: Sequence[Figure]) -> str:
    """Every figure, one after another, under a line naming the range."""
    head = f"posbot report {period.since.isoformat()} .. {period.until.isoformat()} (China days)"
    return "\n\n".join([head, *(format_figure(f) for f in figures)]) + "\n"


def write_csv_files(period: Period, figures: Sequence[Figure], folder: Path) -> list[Path]:
    """One CSV file per figure in ``folder`` (created), named like the dashboard's exports."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for result in figures:
        path = folder / f"{result.key}_{period.since.isoformat()}_{period.until.isoformat()}.csv"
        path.write_text(figure_csv(result), encoding="utf-8")
        written.append(path)
    return written
