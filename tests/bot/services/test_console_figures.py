"""Every console figure against a store with known conversations: exact numbers."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bot.services.console import FIGURES, ConsoleData, Figure, Period, figure_csv
from bot.store.database import CaseStore
from tests.bot.services.console_data import SINCE, UNTIL, events_engine, fill_cases, fill_events
from tests.bot.store.conftest import pg_store  # noqa: F401  (fixture)

D1, D2, D3 = date(2026, 11, 20), date(2026, 11, 21), date(2026, 11, 22)


@pytest.fixture(params=["sqlite", "postgresql"])
def data(request: pytest.FixtureRequest, tmp_path: Path) -> ConsoleData:
    """The known conversations; on PostgreSQL the events share the case store's database,
    as in the production profile."""
    if request.param == "sqlite":
        store = request.getfixturevalue("store")
        engine = events_engine(f"sqlite:///{tmp_path / 'tracker.db'}")
    else:
        store = request.getfixturevalue("pg_store")
        store.create_schema()
        engine = events_engine(store.url)
    fill_events(engine)
    fill_cases(store)
    return ConsoleData(store, engine)


def compute(data: ConsoleData, key: str, since: date = SINCE, until: date = UNTIL) -> Figure:
    (result,) = data.compute(Period(since, until), [key])
    return result


def test_volume(data: ConsoleData) -> None:
    result = compute(data, "volume")
    assert result.rows == [(D1, 3, 7), (D2, 3, 6), (D3, 0, 0)]
    assert result.totals == {"conversations": 5, "messages": 13}


def test_volume_day_edges_are_china_midnight(data: ConsoleData) -> None:
    # F at 11-19 23:59:59 and G at 11-23 00:00:00 China time fall on their own days.
    assert compute(data, "volume", date(2026, 11, 19), date(2026, 11, 19)).rows == [
        (date(2026, 11, 19), 1, 1)
    ]
    assert compute(data, "volume", date(2026, 11, 23), date(2026, 11, 23)).totals == {
        "conversations": 1,
        "messages": 1,
    }


def test_containment(data: ConsoleData) -> None:
    result = compute(data, "containment")
    assert result.rows == [(D1, 3, 2, 0.6667), (D2, 3, 1, 0.3333), (D3, 0, 0, 0.0)]
    assert result.totals == {"conversations": 5, "contained": 2, "containment_rate": 0.4}


def test_fallback(data: ConsoleData) -> None:
    result = compute(data, "fallback")
    assert result.rows == [(D1, 7, 1, 0.1429), (D2, 6, 2, 0.3333), (D3, 0, 0, 0.0)]
    assert result.totals == {"messages": 13, "fallback_messages": 3, "fallback_rate": 0.2308}


def test_handoffs_by_reason(data: ConsoleData) -> None:
    result = compute(data, "handoffs")
    assert result.columns == (
        "day",
        "handoffs",
        "asked",
        "failed_verification",
        "two_misses",
        "other",
        "handoff_rate",
    )
    assert result.rows == [
        (D1, 1, 1, 0, 0, 0, 0.3333),
        (D2, 2, 0, 1, 1, 0, 0.6667),
        (D3, 0, 0, 0, 0, 0, 0.0),
    ]
    assert result.totals == {
        "handoffs": 3,
        "conversations_handed_off": 3,
        "asked": 1,
        "failed_verification": 1,
        "two_misses": 1,
        "other": 0,
        "handoff_rate": 0.6,
    }


def test_top_intents(data: ConsoleData) -> None:
    result = compute(data, "top_intents")
    assert result.rows == [
        ("nlu_fallback", 3, 0.2308),
        ("check_case_status", 2, 0.1538),
        ("report_error_code", 2, 0.1538),
        ("request_human", 2, 0.1538),
        ("affirm", 1, 0.0769),
        ("ask_fees", 1, 0.0769),
        ("ask_review_time", 1, 0.0769),
        ("greet", 1, 0.0769),
    ]


def test_response_codes(data: ConsoleData) -> None:
    result = compute(data, "response_codes")
    assert result.rows == [("03", 2), ("97", 1)]
    assert result.totals == {"reports": 3}


def test_applications_filed_through_the_bot(data: ConsoleData) -> None:
    result = compute(data, "applications")
    assert result.rows == [
        (D1, 2, 0, 1, 0, 1, 0, 0),
        (D2, 1, 0, 0, 0, 0, 1, 0),
        (D3, 0, 0, 0, 0, 0, 0, 0),
    ]
    assert result.totals == {
        "filed": 3,
        "submitted": 0,
        "under_review": 1,
        "needs_documents": 0,
        "approved": 1,
        "rejected": 1,
        "withdrawn": 0,
    }


def test_review_clusters(data: ConsoleData) -> None:
    result = compute(data, "review_clusters")
    assert result.rows == [
        (1, 2, 1, "report_hardware_fault", "打印机卡纸了"),
        (2, 1, 1, "report_hardware_fault", "=今天天气怎么样"),
    ]
    assert result.totals == {"misses": 3, "clustered": 3}


def test_notifications_by_status(data: ConsoleData) -> None:
    result = compute(data, "notifications")
    assert result.rows == [
        (D1, 2, 1, 1, 0, 0),
        (D2, 2, 1, 0, 1, 0),
        (D3, 0, 0, 0, 0, 0),
    ]
    assert result.totals == {
        "planned": 4,
        "sent": 2,
        "failed": 1,
        "pending": 1,
        "skipped": 0,
        "delivery_rate": 0.6667,
    }


def test_feedback_least_helpful_first(data: ConsoleData) -> None:
    result = compute(data, "feedback")
    assert result.rows == [
        ("ask_documents", "utter_documents", 0, 2, 0.0),
        ("ask_review_time", "utter_review_time", 2, 1, 0.6667),
    ]
    assert result.totals == {"helpful": 2, "not_helpful": 3, "helpful_rate": 0.4}


def test_satisfaction_per_day(data: ConsoleData) -> None:
    result = compute(data, "satisfaction")
    assert result.rows == [(D1, 2, 4.5), (D2, 1, 1.0), (D3, 0, 0.0)]
    assert result.totals == {
        "ratings": 3,
        "mean_score": 3.33,
        "score_1": 1,
        "score_2": 0,
        "score_3": 0,
        "score_4": 1,
        "score_5": 1,
    }


def test_every_registered_figure_is_tested() -> None:
    tested = {name.removeprefix("test_") for name in globals() if name.startswith("test_")}
    for key in FIGURES:
        assert any(name.startswith(key) for name in tested), key


def test_empty_store_gives_zero_rows(tmp_path: Path, store: CaseStore) -> None:
    data = ConsoleData(store, events_engine(f"sqlite:///{tmp_path / 'empty.db'}"))
    figures = {f.key: f for f in data.compute(Period(SINCE, SINCE))}
    assert figures["volume"].rows == [(D1, 0, 0)]
    assert figures["top_intents"].rows == []
    assert figures["review_clusters"].rows == []


def test_csv_neutralises_formulas(data: ConsoleData) -> None:
    text = figure_csv(compute(data, "review_clusters"))
    assert text.splitlines() == [
        "group,size,conversations,suggested_intent,examples",
        "1,2,1,report_hardware_fault,打印机卡纸了",
        "2,1,1,report_hardware_fault,'=今天天气怎么样",
    ]


def test_csv_of_a_daily_figure(data: ConsoleData) -> None:
    assert figure_csv(compute(data, "containment")).splitlines() == [
        "day,conversations,contained,containment_rate",
        "2026-11-20,3,2,0.6667",
        "2026-11-21,3,1,0.3333",
        "2026-11-22,0,0,0.0",
    ]


def test_unknown_figure_key(data: ConsoleData) -> None:
    with pytest.raises(KeyError):
        data.compute(Period(SINCE, UNTIL), ["nope"])
