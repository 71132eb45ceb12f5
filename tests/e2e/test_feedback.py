"""Feedback through the real servers: an answer gets verdict buttons and related questions
counted from a seeded tracker store, a click is a masked database row, a hand-back asks for a
1-5 rating; forged payloads store nothing."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import select

from bot import runtime
from bot.services.feedback import sender_hash as _hash
from bot.store.database import CaseStore
from bot.store.models import AnswerFeedback, SatisfactionRating
from bot.store.seed import seed_demo_data
from bot.store.tracker_store import RedactingSQLTrackerStore
from tests.conftest import ROOT
from tests.e2e.conftest import AGENT_TOKEN, AGENT_TOKENS, E2E_RATE_LIMIT, MODEL, Bot

TRACKER = "rasa.core.tracker_store"
HELPFUL = '/answer_feedback{"verdict": "helpful"}'
NOT_HELPFUL = '/answer_feedback{"verdict": "not_helpful"}'
OFFER_TEXT = "这个回答对您有帮助吗？猜您还想问："
# Seeded history: after ask_review_time merchants asked ask_fees 4 times, report_fraud twice,
# ask_pos_types once (the built-in order would be check_case_status, report_rejected, ...).
SEEDED = {
    **{f"seed-a{n}": ["ask_review_time", "ask_fees"] for n in range(4)},
    **{f"seed-b{n}": ["ask_review_time", "thank", "report_fraud"] for n in range(2)},
    "seed-c": ["greet", "ask_review_time", "ask_pos_types"],
}


def _seed_tracker(url: str) -> None:
    domain = Domain.load(str(ROOT / "domain.yml"))
    store = RedactingSQLTrackerStore(domain, url=url)
    at = time.time() - 86400
    for sender, intents in SEEDED.items():
        tracker = DialogueStateTracker(sender, domain.slots)
        for intent in intents:
            tracker.update(ActionExecuted("action_listen", timestamp=at))
            tracker.update(UserUttered("问题", {"name": intent, "confidence": 1.0}, timestamp=at))
        asyncio.run(store.save(tracker))
    store.close()


@pytest.fixture(scope="module")
def feedback_bot(tmp_path_factory) -> Iterator[tuple[Bot, CaseStore]]:
    if not MODEL.exists():
        pytest.fail(f"no trained model at {MODEL}: run `make test` (it trains first)")
    workdir = tmp_path_factory.mktemp("feedback")
    store = CaseStore(f"sqlite:///{workdir / 'cases.db'}")
    store.create_schema()
    seed_demo_data(store)
    tracker_url = f"sqlite:///{workdir / 'tracker.db'}"
    _seed_tracker(tracker_url)
    env = {
        "POSBOT_DB_URL": store.url,
        "POSBOT_TRACKER_URL": tracker_url,
        "POSBOT_AGENT_TOKENS": AGENT_TOKENS,
        "POSBOT_RATE_LIMIT": E2E_RATE_LIMIT,
        "POSBOT_HOTLINE": "4008-123-456",
    }
    endpoints = {
        "nlg": {"type": "bot.nlg.OperatorFactsNLG"},
        "tracker_store": {"type": "bot.store.tracker_store.RedactingSQLTrackerStore"},
    }
    try:
        with runtime.running_bot(
            MODEL, env=env, workdir=workdir, cwd=ROOT, rasa_ready_seconds=180, endpoints=endpoints
        ) as bot:
            yield Bot(bot.url), store
    finally:
        store.dispose()


def sender_hash(sender: str) -> str:
    """The stored hash of a REST sender (its conversation id is ``rest:<sender>``)."""
    return _hash(f"rest:{sender}")


def _feedback(store: CaseStore) -> list[tuple]:
    with store.session() as session:
        rows = session.scalars(select(AnswerFeedback).order_by(AnswerFeedback.id)).all()
        return [(r.intent, r.response, r.verdict, r.masked_text, r.sender_hash) for r in rows]


def _ratings(store: CaseStore) -> list[tuple]:
    with store.session() as session:
        rows = session.scalars(select(SatisfactionRating).order_by(SatisfactionRating.id)).all()
        return [(r.sender_hash, r.agent_id, r.score) for r in rows]


def _buttons(reply: dict) -> list[tuple[str, str]]:
    return [(b["title"], b["payload"]) for b in reply.get("buttons") or []]


def _offers(replies: list[dict]) -> list[dict]:
    return [r for r in replies if str(r.get("text", "")).startswith("这个回答对您有帮助吗")]


def test_an_answer_offers_verdicts_and_the_questions_asked_next_in_the_data(feedback_bot):
    bot, store = feedback_bot
    replies = bot.say("fb-data", "审核要多久")
    assert "工作日" in replies[0]["text"]
    offer = replies[-1]
    assert offer["text"] == OFFER_TEXT
    assert _buttons(offer) == [
        ("👍 有帮助", HELPFUL),
        ("👎 没帮助", NOT_HELPFUL),
        ("解除停用收费吗？", "/ask_fees"),
        ("怎么识别解冻诈骗？", "/report_fraud"),
        ("POS机有哪几种？", "/ask_pos_types"),
    ]
    thanks = bot.say("fb-data", HELPFUL)
    assert [r["text"] for r in thanks] == ["谢谢您的反馈！还有其他问题随时问我。"]
    assert _feedback(store)[-1] == (
        "ask_review_time",
        "utter_review_time",
        "helpful",
        "审核要多久",
        sender_hash("fb-data"),
    )
    # The same click again was not offered any more: nothing more is stored.
    count = len(_feedback(store))
    bot.say("fb-data", HELPFUL)
    assert len(_feedback(store)) == count


def test_a_related_question_button_asks_it(feedback_bot):
    bot, _ = feedback_bot
    bot.say("fb-related", "审核要多久")
    replies = bot.say("fb-related", "/ask_fees")
    assert "不收任何费用" in replies[0]["text"]
    # Too little data after ask_fees: the built-in order.
    assert _buttons(_offers(replies)[0])[2:] == [
        ("怎么识别解冻诈骗？", "/report_fraud"),
        ("怎么申请解除停用？", "/ask_unsuspend_process"),
        ("要准备哪些材料？", "/ask_required_documents"),
    ]


def test_not_helpful_is_stored_masked_with_an_apology_and_a_human(feedback_bot):
    bot, store = feedback_bot
    replies = bot.say("fb-bad", "客服电话多少 我身份证110101199003071234")
    assert _offers(replies)
    sorry = bot.say("fb-bad", NOT_HELPFUL)
    assert len(sorry) == 1 and sorry[0]["text"].startswith("抱歉这个回答没能帮到您")
    assert _buttons(sorry[0]) == [("转人工客服", "/request_human")]
    intent, response, verdict, text, hashed = _feedback(store)[-1]
    assert (intent, response, verdict, hashed) == (
        "ask_contact",
        "utter_contact",
        "not_helpful",
        sender_hash("fb-bad"),
    )
    assert text == "客服电话多少 我身份证110***********1234"


def test_no_offer_after_greetings_or_inside_a_form(feedback_bot):
    bot, _ = feedback_bot
    assert _offers(bot.say("fb-quiet", "你好")) == []
    assert _offers(bot.say("fb-quiet", "谢谢")) == []
    asked = bot.say("fb-quiet", "查一下申请进度")
    assert _offers(asked) == [] and "商户号" in asked[-1]["text"]
    # A question answered inside the identity form gets no offer either.
    assert _offers(bot.say("fb-quiet", "审核要多久")) == []


@pytest.mark.parametrize(
    "forged",
    [
        '/answer_feedback{"verdict": "excellent"}',
        HELPFUL,
        '/answer_feedback{"verdict": "helpful", "intent": "ask_fees"}',
        "/answer_feedback",
        '/answer_feedback{"verdict": ' + '"x' * 300 + '"}',
    ],
)
def test_forged_verdicts_store_nothing(feedback_bot, forged):
    bot, store = feedback_bot
    before = _feedback(store)
    bot.say("fb-forge", "你好")  # no answer, no offer: no verdict button to press
    replies = bot.say("fb-forge", forged)
    assert isinstance(replies, list)
    assert _feedback(store) == before


def _release(bot: Bot, sender: str) -> dict:
    request = urllib.request.Request(
        f"{bot.url}/agent/conversations/rest:{sender}/release",
        method="POST",
        data=b"{}",
        headers={"Authorization": f"Bearer {AGENT_TOKEN}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _inbox(bot: Bot, sender: str) -> list[dict]:
    request = urllib.request.Request(
        f"{bot.url}/chat/inbox?sender={urllib.parse.quote(sender)}",
        headers={"X-Posbot-Session": bot.tokens[sender]},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["messages"]


def test_after_the_hand_back_a_rating_is_asked_and_stored(feedback_bot):
    bot, store = feedback_bot
    sender = "web-fb0000000000000000000001"  # a widget's id: its inbox gets the question
    bot.say(sender, "转人工")
    assert _release(bot, sender)["resumed"] is True
    inbox = _inbox(bot, sender)
    rating = inbox[-1]
    assert rating["text"].startswith("本次人工服务已结束")
    assert [b["payload"] for b in rating["buttons"]] == [
        f'/rate_service{{"score": {n}}}' for n in (5, 4, 3, 2, 1)
    ]
    replies = bot.say(sender, '/rate_service{"score": 4}')
    assert [r["text"] for r in replies] == ["感谢您的评价（4 分）！我们会继续改进服务。"]
    assert _ratings(store) == [(sender_hash(sender), "alice", 4)]
    # Once only: the buttons are gone with the next message.
    bot.say(sender, '/rate_service{"score": 1}')
    assert _ratings(store) == [(sender_hash(sender), "alice", 4)]


@pytest.mark.parametrize(
    "forged",
    ['/rate_service{"score": 5}', '/rate_service{"score": 9}', "/rate_service", "给客服打5分"],
)
def test_a_rating_without_a_handoff_is_refused(feedback_bot, forged):
    bot, store = feedback_bot
    before = _ratings(store)
    replies = bot.say("fb-norate", forged)
    assert isinstance(replies, list)
    assert _ratings(store) == before
