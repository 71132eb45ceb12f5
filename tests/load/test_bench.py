"""The bench's judge, arithmetic, chart and summary (the measurements run in `make bench`)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from load.bench import chart
from load.bench.figures import (
    curve_points,
    ratios,
    rolling_mean,
    run_figures,
    target_rows,
    turn_medians,
)
from load.bench.report import render
from load.bench.script import CONVERSATION, Run, Turn, judge
from load.merchants import load_merchant

MERCHANT = load_merchant(3)
VERIFY = next(step for step in CONVERSATION if step.shows)


def test_the_script_is_five_turns_and_fills_the_merchant_in():
    assert [step.name for step in CONVERSATION] == [
        "greeting", "faq: why suspended", "faq: how to unsuspend", "verification and status",
        "thanks",
    ]  # fmt: skip
    text = VERIFY.text_for(MERCHANT)
    assert MERCHANT.merchant_id in text and MERCHANT.phone_last4 in text


def test_judge_accepts_a_text_reply_and_the_merchants_own_case():
    assert judge(CONVERSATION[0], MERCHANT, 200, [{"text": "您好"}]) is None
    assert judge(VERIFY, MERCHANT, 200, [{"text": f"申请单 {MERCHANT.case_id}：审核中"}]) is None


@pytest.mark.parametrize(
    ("status", "replies", "problem"),
    [
        (429, [{"text": "请求过于频繁"}], "HTTP 429"),
        (200, [], "no text reply"),
        (200, [{"image": "x"}], "no text reply"),
        (200, [{"text": "申请单 JC990000000004：审核中"}], "case_id"),
    ],
)
def test_judge_refuses_wrong_answers(status, replies, problem):
    assert problem in (judge(VERIFY, MERCHANT, status, replies) or "")


def test_run_figures_count_errors_and_rate():
    run = Run([Turn("a", i, "x", 0.01 * i, "HTTP 500" if i == 3 else None) for i in range(1, 11)])
    run.seconds = 2.0
    figures = run_figures(run)
    assert figures["turns"] == 10 and figures["errors"] == 1
    assert figures["turns_per_second"] == 5.0
    assert figures["p50_ms"] == pytest.approx(50.0) and figures["p95_ms"] == pytest.approx(100.0)
    assert run.problems == ["a #3 x: HTTP 500"]


def test_curve_points_take_the_mean_of_the_ten_turns_ending_there():
    latencies = [float(i) for i in range(1, 401)]
    latencies[99] = 1000.0
    points = curve_points(latencies)
    assert points["10"] == {"turn_ms": 10.0, "mean_ms": 5.5}
    assert points["100"] == {"turn_ms": 1000.0, "mean_ms": pytest.approx(185.5)}
    assert points["400"]["mean_ms"] == 395.5
    assert "400" not in curve_points(latencies[:399])
    assert rolling_mean([1.0, 3.0, 2.0], window=2) == [1.0, 2.0, 2.5]


def test_a_curve_point_does_not_jump_between_the_scripts_two_kinds_of_turns():
    # The script's turns cost about 4.5 or 8.5 ms; a 1 ms rise of every turn moved the median
    # of ten such turns by 3.5 ms. The mean moves by what the turns moved.
    cheap, dear = [4.5, 4.4, 5.0, 4.3], [8.5, 8.6, 8.4, 8.7, 8.5, 8.6]
    before = curve_points([*cheap, *dear], checkpoints=(10,))["10"]["mean_ms"]
    after = curve_points([v + 1 for v in (*cheap, *dear)], checkpoints=(10,))["10"]["mean_ms"]
    assert after - before == pytest.approx(1.0)


def test_each_turn_of_the_curve_is_its_median_over_the_conversations():
    conversations = [[5.0, 9.0, 5.0], [5.2, 30.0, 4.8], [4.9, 9.2, 5.1, 7.0]]
    assert turn_medians(conversations) == [5.0, 9.2, 5.0]  # one slow turn does not count


def profile(rate10: float, rate20: float, turn10: float, turn400: float) -> dict:
    runs = {
        "10": {"turns": 200, "turns_per_second": rate10, "p50_ms": 40.0, "p95_ms": 90.0,
               "p99_ms": 120.0, "errors": 0, "cpu_ms_per_turn": 12.5},
        "20": {"turns": 400, "turns_per_second": rate20, "p50_ms": 80.0, "p95_ms": 190.0,
               "p99_ms": 220.0, "errors": 0, "cpu_ms_per_turn": 12.0},
    }  # fmt: skip
    curve = {
        str(t): {"turn_ms": v, "mean_ms": v}
        for t, v in ((10, turn10), (100, turn10 * 2), (200, turn10 * 3), (400, turn400))
    }
    latencies = [turn10 + (turn400 - turn10) * i / 399 for i in range(400)]
    return {"title": "t", "description": "d", "runs": runs, "curve": curve,
            "latencies_ms": latencies}  # fmt: skip


PROFILES = {"single": profile(100.0, 110.0, 10.0, 100.0), "prod": profile(130.0, 121.0, 20.0, 25.0)}


def test_ratios_and_targets():
    figures = ratios(PROFILES, [10, 20])
    assert figures["prod_over_single_10"] == pytest.approx(1.3)
    assert figures["prod_over_single_20"] == pytest.approx(1.1)
    assert figures["single_turn400_over_turn10"] == pytest.approx(10.0)
    assert figures["prod_turn400_over_turn10"] == pytest.approx(1.25)
    assert figures["single_best_turns_per_second"] == 110.0
    met = {title: verdict for title, _, _, verdict in target_rows(figures)}
    assert met == {
        "prod/single turns/s, 10 senders": "yes",
        "prod/single turns/s, 20 senders": "NO",
        "prod p95 at 10 senders (ms)": "yes",
        "single turn 400 / turn 10": "NO",
        "prod turn 400 / turn 10": "yes",
        "single turns/s, best": "NO",
    }


def test_without_the_production_profile_there_are_no_ratios():
    figures = ratios({"single": PROFILES["single"]}, [10, 20])
    assert figures["prod_over_single_10"] is None and figures["prod_p95_10"] is None
    assert {verdict for title, _, _, verdict in target_rows(figures) if "prod" in title} == {"—"}


def test_the_chart_is_self_contained_svg_with_both_profiles():
    text = chart.svg(PROFILES, [10, 20], "2026-11-30 · 2 cores")
    root = ET.fromstring(text)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert "<script" not in text and "href" not in text
    names = [element.tag.split("}")[1] for element in root.iter()]
    assert names.count("polyline") == 2 and names.count("rect") >= 1 + 4 + 2
    bars = chart.text_chart(PROFILES, [10, 20])
    assert "prod   20 senders" in bars and "121.0" in bars and "single turn 400" in bars


def test_the_summary_has_both_profiles_ratios_and_the_curve():
    results = {
        "date": "2026-11-30T09:00:00+00:00", "commit": "abc1234", "cores": 2,
        "load_before": "3.1", "load_after": "3.5", "command": "python -m load.bench",
        "senders": [10, 20], "repeats": 4, "curve_turns": 400, "profiles": PROFILES,
        "skipped": {}, "ratios": ratios(PROFILES, [10, 20]),
    }  # fmt: skip
    summary = render(results)
    assert "| prod | 10 | 200 | 130.0 | 40.0 | 90.0 | 120.0 | 0 | 12.5 |" in summary
    assert "**prod / single turns per second:** 1.30 at 10 senders, 1.10 at 20 senders." in summary
    assert "| single | 10.0 (10.0) | 20.0 (20.0) | 30.0 (30.0) | 100.0 (100.0) | 10.00 |" in summary
    assert "![turns per second and turn latency along one conversation](chart.svg)" in summary
    skipped = render({**results, "profiles": {"single": PROFILES["single"]},
                      "skipped": {"prod": "Redis is not reachable"}})  # fmt: skip
    assert "- **prod**: skipped: Redis is not reachable" in skipped


def test_settle_waits_for_a_busy_process_to_go_idle():
    import subprocess
    import sys

    from load.bench.cpu import settle

    busy = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time\nend = time.time() + 1.5\nwhile time.time() < end: pass\ntime.sleep(30)",
        ]
    )
    try:
        waited = settle(lambda: {busy.pid}, window_seconds=0.25, limit_seconds=10)
        assert 1.0 <= waited < 5  # busy for 1.5 s, then idle
        assert settle(lambda: {busy.pid}, window_seconds=0.25) < 0.5  # idle already
    finally:
        busy.kill()
        busy.wait()


@pytest.mark.parametrize("option", ["--repeats", "--curve-turns", "--curve-conversations"])
def test_the_bench_refuses_counts_below_one(option, capsys):
    from load.bench.__main__ import main

    with pytest.raises(SystemExit) as exit_info:
        main([option, "0", "--skip-prod"])
    assert exit_info.value.code == 2
    assert "must be at least 1" in capsys.readouterr().err


def test_the_profiles_runs_are_taken_in_turns_a_b_b_a():
    from load.bench.__main__ import block_plan

    assert block_plan(["single", "prod"], 12) == [
        ("single", 3), ("prod", 3), ("prod", 3), ("single", 3),
        ("single", 3), ("prod", 3), ("prod", 3), ("single", 3),
    ]  # fmt: skip
    assert block_plan(["single", "prod"], 5) == [
        ("single", 2), ("prod", 2), ("prod", 1), ("single", 1),
        ("single", 1), ("prod", 1), ("prod", 1), ("single", 1),
    ]  # fmt: skip
    assert block_plan(["single", "prod"], 1) == [("single", 1), ("prod", 1)]
    assert block_plan(["single"], 12) == [("single", 3)] * 4
