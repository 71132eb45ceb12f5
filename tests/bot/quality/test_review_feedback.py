"""`posbot review` lists the answers most often marked not helpful, with masked examples."""

from __future__ import annotations

import asyncio

from bot.cli.main import main
from bot.quality.review import load_unhelpful, write_unhelpful
from bot.services.feedback import FeedbackService
from tests.conftest import NOW

VERDICTS = [
    ("ask_review_time", "utter_review_time", "not_helpful", "审核要多久 我电话13812345678"),
    ("ask_review_time", "utter_review_time", "not_helpful", "审核要多久 我电话13812345678"),
    ("ask_review_time", "utter_review_time", "not_helpful", "=cmd|' /C calc'!A0\n- intent: x"),
    ("ask_review_time", "utter_review_time", "helpful", "审核几天"),
    ("ask_fees", "utter_fees", "not_helpful", "要交钱吗"),
    ("ask_contact", "utter_contact", "helpful", "电话多少"),
]


def plant(store) -> None:
    service = FeedbackService(store)
    for n, (intent, response, verdict, text) in enumerate(VERDICTS):
        asyncio.run(
            service.record_verdict(
                sender_id=f"s{n}", intent=intent, response=response, verdict=verdict,
                text=text, now=NOW,
            )
        )  # fmt: skip


def test_the_most_unhelpful_answers_come_first_with_masked_examples(store, tmp_path):
    plant(store)
    with store.session() as session:
        answers = load_unhelpful(session)
    assert [(a.response, a.not_helpful, a.helpful) for a in answers] == [
        ("utter_review_time", 3, 1),
        ("utter_fees", 1, 0),
    ]
    assert answers[0].examples == (
        "=cmd|' /C calc'!A0\n- intent: x",
        "审核要多久 我电话138****5678",
    )
    text = write_unhelpful(answers, tmp_path / "r").read_text(encoding="utf-8")
    assert "## 1. `utter_review_time` (intent `ask_review_time`): 3 not helpful, 1 helpful" in text
    assert "- 审核要多久 我电话138****5678" in text
    assert "13812345678" not in text
    # A message cannot add lines of its own to the worksheet.
    assert "\n- intent: x" not in text


def test_review_command_writes_the_unhelpful_list(store, tmp_path, monkeypatch, capsys):
    plant(store)
    monkeypatch.setenv("POSBOT_DB_URL", store.url)
    assert main(["review", "--out", str(tmp_path / "r")]) == 0
    assert "2 answers marked not helpful" in capsys.readouterr().out
    assert (tmp_path / "r" / "unhelpful.md").exists()
