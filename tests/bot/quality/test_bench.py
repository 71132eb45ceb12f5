"""The in-process benchmark's arithmetic and report (it measures in `make bench-detail`)."""

from __future__ import annotations

from bot.quality.bench import BASELINE, hot_frames, percentiles, write_report


def test_percentiles_in_milliseconds():
    figures = percentiles([i / 1000 for i in range(1, 101)])
    assert (figures["p50"], figures["p95"], figures["p99"], figures["n"]) == (51, 95, 99, 100)


def test_hot_frames_skip_idle_samples_and_keep_our_frames(tmp_path):
    raw = tmp_path / "profile.txt"
    raw.write_text(
        "main (x.py:1);handle_message (rasa/core/processor.py:1);validate (jsonschema/v.py:9) 30\n"
        "main (x.py:1);handle_message (rasa/core/processor.py:1);predict (rasa/nlu/d.py:2) 10\n"
        "main (x.py:1);serve (sanic/server/runners.py:155) 500\n",
        encoding="utf-8",
    )
    frames = dict(hot_frames(raw))
    assert frames == {
        "handle_message (rasa/core/processor.py:1)": 1.0,
        "validate (jsonschema/v.py:9)": 0.75,
        "predict (rasa/nlu/d.py:2)": 0.25,
    }


def test_report_shows_before_now_target_and_the_findings(tmp_path):
    turns = {"p50": 20.0, "p95": 40.0, "p99": 50.0, "n": 60, "turns_per_second": 45.0}
    results = {
        "when": "2026-11-26T10:00:00",
        "parse": {"p50": 6.0, "p95": 9.0, "p99": 12.0, "n": 608},
        "server": {
            "ready_seconds": 10.0,
            "cold_start_seconds": 11.0,
            "rasa_rss_idle_mb": 700.0,
            "rasa_rss_mb": 800.0,
            "actions_rss_idle_mb": 60.0,
            "actions_rss_mb": 70.0,
            "turns": {"1": turns, "10": {**turns, "p95": 240.0}},
            "paced_10": turns,
        },
        "lookup": {"sqlite/1000": {"p50": 0.3, "p95": 0.6, "p99": 0.9, "n": 500}},
    }
    write_report(results, tmp_path)
    summary = (tmp_path / "summary.md").read_text(encoding="utf-8")
    before = BASELINE["turn p95 at 10 concurrent, back to back (ms)"]
    assert (
        f"| turn p95 at 10 concurrent, back to back (ms) | {before:.1f} | 240.0 | <= 60 | NO |"
        in (summary)
    )
    assert (
        "| turn p95 at 10 concurrent, ~1 s reading pause (ms) | — | 40.0 | <= 60 | yes |" in summary
    )
    assert "| training from scratch (s) | — | — | <= 300 | — |" in summary
    assert "| sqlite/1000 | 0.30 | 0.60 | 0.90 |" in summary
    assert "## Findings" in summary
    assert (tmp_path / "bench.json").exists()
