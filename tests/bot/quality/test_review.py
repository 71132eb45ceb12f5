import csv
from datetime import datetime

from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.fallback import ActionClarify
from bot.cli.main import main
from bot.quality.review import group_misses, load_misses, write_worksheet
from bot.services.misses import record_miss
from bot.store.models import NluMiss
from tests.actions.helpers import make_tracker

NOW = datetime(2026, 11, 26, 10, 0)
PLANTED = {
    "ask_review_time": ["押金什么时候退", "押金多久能退回来", "退押金要几天", "押金退了没有"],
    "report_hardware_fault": ["小票纸卡住了", "小票打不出来纸卡了", "纸卡住出不了小票"],
    "ask_contact": ["你们营业厅在哪", "营业厅地址在哪里", "最近的营业厅在哪"],
}


def _plant(store) -> None:
    with store.session() as session:
        for n, (guess, texts) in enumerate(PLANTED.items()):
            for i, text in enumerate(texts):
                record_miss(session, sender_id=f"s{n}-{i % 2}", text=text, guess=guess,
                            confidence=0.3, now=NOW)  # fmt: skip


def test_planted_misses_fall_into_their_groups(store, tmp_path):
    _plant(store)
    with store.session() as session:
        groups = group_misses(load_misses(session), max_groups=3)
    assert [g.size for g in groups] == [4, 3, 3]
    by_intent = {g.suggested_intent: set(g.examples) for g in groups}
    assert by_intent == {intent: set(texts) for intent, texts in PLANTED.items()}
    markdown, table = write_worksheet(groups, tmp_path / "review")
    assert "- intent: ask_review_time" in markdown.read_text(encoding="utf-8")
    rows = list(csv.DictReader(table.open(encoding="utf-8")))
    assert len(rows) == 10 and rows[0]["group"] == "1" and rows[0]["size"] == "4"


def test_misses_are_recorded_masked_by_the_fallback_action(store, calendar, domain):
    action = ActionClarify(store=store, calendar=calendar, clock=lambda: NOW)
    ranking = [
        {"name": "nlu_fallback", "confidence": 1.0},
        {"name": "ask_contact", "confidence": 0.3},
        {"name": "greet", "confidence": 0.2},
    ]
    tracker = make_tracker("nlu_fallback", text="我电话13812345678 营业厅在哪", ranking=ranking)
    import asyncio

    asyncio.run(action.run(CollectingDispatcher(), tracker, domain))
    with store.session() as session:
        miss = session.execute(select(NluMiss)).scalar_one()
    assert (miss.text, miss.guess, miss.sender_id) == (
        "我电话138****5678 营业厅在哪",
        "ask_contact",
        "tester",
    )


def test_review_command_writes_the_worksheet(store, tmp_path, monkeypatch, capsys):
    _plant(store)
    monkeypatch.setenv("POSBOT_DB_URL", store.url)
    assert main(["review", "--out", str(tmp_path / "r"), "--groups", "3"]) == 0
    assert "10 missed messages in 3 groups" in capsys.readouterr().out
    assert (tmp_path / "r" / "review.csv").exists()
