"""Figures blocks in the docs are rewritten from report files, and only between their markers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.quality.docs_figures import (
    FiguresError,
    default_sources,
    main,
    refresh,
    render_bench_targets,
    render_summary,
    rewrite,
)

EVAL_SUMMARY = """# NLU evaluation

Train: `data/nlu` · test: `tests/nlu/test_nlu.yml` (446 examples) · seed 20261125

| figure | ours |
|---|---|
| intent accuracy | 0.971 |
"""

LOAD_REPORT = """# Load test: default profile — PASS

- Date: 2026-11-30T07:33:06+00:00; commit d7fdce2
| turn | requests | errors | p50 ms | p95 ms | p99 ms | max ms |
|---|---:|---:|---:|---:|---:|---:|
| 1 greet | 462 | 0 | 207 | 727 | 1198 | 1572 |
| all turns | 2772 | 0 | 171 | 578 | 916 | 1716 |

- Turns per second: **42.3** (2772 turns in 65.6 s)
- Events: 2772 messages sent, 2772 in their tracker exactly once; lost **0**, duplicated **1**
"""

PAGE = """# Evaluation

Intro stays.

<!-- figures:eval -->
old figures, 0.964
<!-- /figures:eval -->

Between stays.

<!-- figures:load -->
<!-- /figures:load -->

<!-- figures:bench -->
kept: no bench report
<!-- /figures:bench -->
"""


@pytest.fixture
def reports(tmp_path: Path) -> dict:
    (tmp_path / "eval").mkdir()
    summary = tmp_path / "eval" / "summary.md"
    summary.write_text(EVAL_SUMMARY, encoding="utf-8")
    os.utime(summary, (1_796_000_000, 1_796_000_000))  # 2026-11-30 00:53 UTC
    (tmp_path / "load").mkdir()
    (tmp_path / "load" / "default.md").write_text(LOAD_REPORT, encoding="utf-8")
    page = tmp_path / "docs" / "evaluation.md"
    page.parent.mkdir()
    page.write_text(PAGE, encoding="utf-8")
    sources = default_sources(summary, tmp_path / "bench" / "summary.md", tmp_path / "load")
    return {"sources": sources, "page": page, "root": tmp_path}


def test_blocks_are_rewritten_from_the_reports_and_nothing_else_changes(reports):
    changed = refresh([reports["page"].parent], reports["sources"])
    text = reports["page"].read_text(encoding="utf-8")
    assert changed == [reports["page"]]
    summary = reports["sources"]["eval"].path
    assert text == PAGE.replace(
        "old figures, 0.964\n",
        f"_From `{summary}`, written 2026-11-30 00:53 UTC._\n\n"
        "Train: `data/nlu` · test: `tests/nlu/test_nlu.yml` (446 examples) · seed 20261125\n\n"
        "| figure | ours |\n|---|---|\n| intent accuracy | 0.971 |\n",
    ).replace(
        "<!-- figures:load -->\n",
        "<!-- figures:load -->\n"
        f"_From `{reports['root'] / 'load'}/*.md` (committed reports of `make load` /"
        " `make load-prod`)._\n\n"
        "| profile | date | turns/s | p50 / p95 / p99 ms | turns | errors | lost / duplicated"
        " | result |\n|---|---|---:|---|---:|---:|---|---|\n"
        f"| [default]({reports['root'] / 'load' / 'default.md'}) | 2026-11-30 | 42.3"
        " | 171 / 578 / 916 | 2772 | 0 | 0 / 1 | PASS |\n",
    )
    # A second run with the same reports changes nothing.
    assert refresh([reports["page"].parent], reports["sources"]) == []


def test_only_the_named_blocks_are_rewritten(reports):
    refresh([reports["page"]], reports["sources"], names=["load"])
    text = reports["page"].read_text(encoding="utf-8")
    assert "old figures, 0.964" in text and "| 42.3 |" in text


@pytest.mark.parametrize(
    "text",
    [
        "<!-- figures:eval -->\nx\n",
        "<!-- figures:eval -->\n<!-- /figures:load -->\n",
        "<!-- figures:eval -->\n<!-- figures:load -->\n<!-- /figures:load -->\n"
        "<!-- /figures:eval -->\n",
        "<!-- /figures:eval -->\n",
    ],
)
def test_unbalanced_markers_are_refused(text):
    with pytest.raises(FiguresError, match="figures"):
        rewrite(text, {"eval": "new\n"}, Path("page.md"))


def test_an_unreadable_load_report_is_an_error_with_the_file(reports, capsys):
    broken = reports["root"] / "load" / "broken.md"
    broken.write_text("# Load test: broken profile — FAIL\n", encoding="utf-8")
    code = main(
        [
            "load",
            "--pages",
            str(reports["page"]),
            "--load",
            str(reports["root"] / "load"),
        ]
    )
    assert code == 2
    assert "broken.md" in capsys.readouterr().err
    assert reports["page"].read_text(encoding="utf-8") == PAGE


def test_command_line_rewrites_the_pages_and_names_missing_reports(reports, capsys):
    root = reports["root"]
    code = main(
        [
            "--pages",
            str(reports["page"]),
            "--eval",
            str(root / "eval" / "summary.md"),
            "--bench",
            str(root / "bench" / "summary.md"),
            "--load",
            str(root / "load"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "figures:bench left as it is" in out and f"rewrote {reports['page']}" in out
    assert "intent accuracy | 0.971" in reports["page"].read_text(encoding="utf-8")


def test_an_image_of_the_report_becomes_a_mention_of_its_file(tmp_path: Path) -> None:
    report = tmp_path / "bench" / "summary.md"
    report.parent.mkdir()
    report.write_text("# Bench\n\nrow\n\n![turns per second](chart.svg)\n", encoding="utf-8")

    rendered = render_summary(report)

    assert "](chart.svg)" not in rendered
    assert f"Turns per second: `{report.parent / 'chart.svg'}` (not committed)." in rendered


BENCH_SUMMARY = """# Benchmark: single process and production profile

2026-11-30T16:50:51+00:00 · commit 131d4a8 · 2 cores · load average 0.9 before, 1.6 after

| profile | senders | turns | turns/s |
|---|---|---|---|
| single | 10 | 600 | 174.7 |

| target (issue 15) | now | target | met |
|---|---|---|---|
| prod/single turns/s, 10 senders | 1.08 | >= 1.2 | NO |
| single turns/s, best | 174.71 | >= 200 | NO |

Figures from one run.
"""


def test_the_readme_gets_the_targets_table_of_the_newest_bench(tmp_path: Path) -> None:
    report = tmp_path / "summary.md"
    report.write_text(BENCH_SUMMARY, encoding="utf-8")
    rendered = render_bench_targets(report)
    assert rendered.startswith("_Newest `make bench` (2026-11-30, commit 131d4a8, 2 cores;")
    assert "| prod/single turns/s, 10 senders | 1.08 | >= 1.2 | NO |" in rendered
    assert rendered.rstrip().endswith("| single turns/s, best | 174.71 | >= 200 | NO |")
    assert "174.7 |" not in rendered.replace("174.71", "")  # only the targets table
    report.write_text(BENCH_SUMMARY.replace("| target (issue 15)", "| figure"), encoding="utf-8")
    with pytest.raises(FiguresError, match="no date line or no targets table"):
        render_bench_targets(report)
