"""Figures in the docs come from the reports: rewrites marked blocks from the newest report files.

A page marks a block ``<!-- figures:NAME -->`` … ``<!-- /figures:NAME -->``; this module replaces
what is between the markers with the figures of report NAME:

- ``eval``: ``reports/eval/summary.md`` (``make eval``), included whole without its title;
- ``bench``: ``reports/bench/summary.md`` (``make bench``), included whole without its title;
- ``bench_targets``: the same report's table of issue 15's targets, with its date and commit
  (for the README);
- ``load``: ``load/results/*.md`` (``make load``, ``make load-prod``; committed), one table row
  per profile: date, turns/s, latency of all turns, errors, lost or duplicated messages.

A report that does not exist leaves its blocks as they are. ``make eval`` runs it for ``eval``;
``python -m bot.quality.docs_figures`` refreshes every block from whatever reports exist.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Final

DEFAULT_PAGES: Final = (Path("README.md"), Path("docs"))
_BLOCK: Final = re.compile(
    r"(<!-- figures:(?P<name>[a-z_]+) -->\n)(?P<body>.*?)(<!-- /figures:(?P=name) -->)", re.S
)
_MARKER: Final = re.compile(r"<!-- (/?)figures:([a-z_]+) -->")


class FiguresError(ValueError):
    """A page's markers or a report cannot be read."""


@dataclass(frozen=True)
class Source:
    """Where the figures of one block come from and how they are written."""

    name: str
    path: Path
    render: Callable[[Path], str]

    def available(self) -> bool:
        """Whether the report exists (a directory needs at least one ``*.md``)."""
        if self.path.is_dir():
            return any(self.path.glob("*.md"))
        return self.path.is_file()


def _written(path: Path) -> str:
    stamp = datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.utc)
    return stamp.strftime("%Y-%m-%d %H:%M UTC")


# An image of the report (``![…](chart.svg)``): relative to the report, which is not committed.
_IMAGE: Final = re.compile(r"^!\[(?P<alt>[^\]]*)\]\((?P<target>[^)\s]+)\)\s*$")


def _image_as_text(line: str, report_dir: Path) -> str:
    """An image line of a report as a mention of the file, so the page has no broken link."""
    match = _IMAGE.match(line)
    if match is None:
        return line
    return f"{match['alt'].capitalize()}: `{report_dir / match['target']}` (not committed)."


def render_summary(path: Path) -> str:
    """A report's summary.md without its title, headed by where and when it was written.

    Image lines become a mention of the image file: reports are not committed.
    """
    lines = [
        _image_as_text(line, path.parent) for line in path.read_text(encoding="utf-8").splitlines()
    ]
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    while lines and not lines[0].strip():
        lines = lines[1:]
    body = "\n".join(lines).rstrip()
    return f"_From `{path}`, written {_written(path)}._\n\n{body}\n"


_TITLE: Final = re.compile(r"^# Load test: (?P<profile>\S+) profile — (?P<verdict>\w+)", re.M)
_DATE: Final = re.compile(r"^- Date: (?P<date>\S+?)T", re.M)
_ALL_TURNS: Final = re.compile(
    r"^\| all turns \| (?P<requests>\d+) \| (?P<errors>\d+) \| (?P<p50>\d+) \| (?P<p95>\d+) "
    r"\| (?P<p99>\d+) \|",
    re.M,
)
_RATE: Final = re.compile(r"^- Turns per second: \*\*(?P<rate>[\d.]+)\*\*", re.M)
_LOST: Final = re.compile(r"lost \*\*(?P<lost>\d+)\*\*, duplicated \*\*(?P<duplicated>\d+)\*\*")


def load_row(path: Path) -> str:
    """One table row of a load report (``load/results/<profile>.md``)."""
    text = path.read_text(encoding="utf-8")
    found = {}
    for pattern in (_TITLE, _DATE, _ALL_TURNS, _RATE, _LOST):
        match = pattern.search(text)
        if match is None:
            raise FiguresError(f"{path}: no match for {pattern.pattern!r}")
        found.update(match.groupdict())
    return (
        f"| [{found['profile']}]({_link(path)}) | {found['date']} | {found['rate']} "
        f"| {found['p50']} / {found['p95']} / {found['p99']} | {found['requests']} "
        f"| {found['errors']} | {found['lost']} / {found['duplicated']} | {found['verdict']} |"
    )


_TARGETS_HEADER: Final = "| target (issue 15) |"
_STAMP: Final = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})T\S+ · commit (?P<commit>\w+) · (?P<cores>\d+) cores"
)


def render_bench_targets(path: Path) -> str:
    """The targets table of a bench summary, headed by its date, commit and cores."""
    text = path.read_text(encoding="utf-8")
    stamp = next((m for line in text.splitlines() if (m := _STAMP.match(line))), None)
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(_TARGETS_HEADER)), None)
    if stamp is None or start is None:
        raise FiguresError(f"{path}: no date line or no targets table")
    end = start
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    heading = (
        f"_Newest `make bench` ({stamp['date']}, commit {stamp['commit']}, {stamp['cores']} "
        "cores; one run: a profile's turns per second moves by up to 20 % from run to run on "
        "this shared machine, the ratios less, as the profiles take turns):_"
    )
    return "\n".join([heading, "", *lines[start:end], ""])


def _link(path: Path) -> str:
    """Link from a page in docs/ to a file given relative to the repository root."""
    return path.as_posix() if path.is_absolute() else f"../{path.as_posix()}"


def render_load(directory: Path) -> str:
    """A table of every load report in ``directory``."""
    rows = [load_row(path) for path in sorted(directory.glob("*.md"))]
    return "\n".join(
        [
            f"_From `{directory}/*.md` (committed reports of `make load` / `make load-prod`)._",
            "",
            "| profile | date | turns/s | p50 / p95 / p99 ms | turns | errors "
            "| lost / duplicated | result |",
            "|---|---|---:|---|---:|---:|---|---|",
            *rows,
            "",
        ]
    )


def default_sources(
    eval_summary: Path = Path("reports/eval/summary.md"),
    bench_summary: Path = Path("reports/bench/summary.md"),
    load_results: Path = Path("load/results"),
) -> dict[str, Source]:
    """The reports of ``make eval``, ``make bench`` and ``make load``."""
    return {
        "eval": Source("eval", eval_summary, render_summary),
        "bench": Source("bench", bench_summary, render_summary),
        "bench_targets": Source("bench_targets", bench_summary, render_bench_targets),
        "load": Source("load", load_results, render_load),
    }


def check_markers(text: str, page: Path) -> None:
    """Every opened block is closed by the same name, blocks do not nest."""
    open_name: str | None = None
    for match in _MARKER.finditer(text):
        closing, name = match.group(1) == "/", match.group(2)
        if not closing and open_name is None:
            open_name = name
        elif closing and open_name == name:
            open_name = None
        else:
            raise FiguresError(f"{page}: unbalanced figures marker {match.group(0)!r}")
    if open_name is not None:
        raise FiguresError(f"{page}: figures:{open_name} is never closed")


def rewrite(text: str, rendered: dict[str, str], page: Path = Path("<text>")) -> str:
    """``text`` with the body of every block named in ``rendered`` replaced."""
    check_markers(text, page)

    def replace(match: re.Match[str]) -> str:
        body = rendered.get(match.group("name"))
        if body is None:
            return match.group(0)
        return f"{match.group(1)}{body}{match.group(4)}"

    return _BLOCK.sub(replace, text)


def pages(paths: Iterable[Path]) -> list[Path]:
    """Markdown files among ``paths`` (directories searched recursively)."""
    found: list[Path] = []
    for path in paths:
        found += sorted(path.rglob("*.md")) if path.is_dir() else [path]
    return found


def refresh(
    page_paths: Iterable[Path], sources: dict[str, Source], names: Sequence[str] = ()
) -> list[Path]:
    """Rewrites the blocks of ``names`` (default: all) in the pages; returns the pages changed."""
    rendered = {
        name: source.render(source.path)
        for name, source in sources.items()
        if (not names or name in names) and source.available()
    }
    changed = []
    for page in pages(page_paths):
        text = page.read_text(encoding="utf-8")
        new = rewrite(text, rendered, page)
        if new != text:
            page.write_text(new, encoding="utf-8")
            changed.append(page)
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m bot.quality.docs_figures [eval|bench|load …]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="blocks to refresh (default: every report)")
    parser.add_argument("--pages", nargs="*", type=Path, default=list(DEFAULT_PAGES))
    parser.add_argument("--eval", type=Path, default=Path("reports/eval/summary.md"))
    parser.add_argument("--bench", type=Path, default=Path("reports/bench/summary.md"))
    parser.add_argument("--load", type=Path, default=Path("load/results"))
    args = parser.parse_args(argv)
    sources = default_sources(args.eval, args.bench, args.load)
    unknown = set(args.names) - set(sources)
    if unknown:
        parser.error(f"unknown figures: {', '.join(sorted(unknown))}")
    try:
        changed = refresh(args.pages, sources, args.names)
    except (FiguresError, OSError) as error:
        print(f"docs figures: {error}", file=sys.stderr)
        return 2
    for name, source in sources.items():
        if (not args.names or name in args.names) and not source.available():
            print(f"docs figures: no {source.path}, figures:{name} left as it is")
    for page in changed:
        print(f"docs figures: rewrote {page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
