"""Feedback in the web widget (chromium): the buttons under an answer, and the rating buttons
that arrive through the inbox after an agent hands the conversation back."""

from __future__ import annotations

from sqlalchemy import select

from bot.store.models import AnswerFeedback, SatisfactionRating
from tests.e2e.test_browser import _agent_call, _bot_texts, _send, browser, page  # noqa: F401

OFFER = "这个回答对您有帮助吗"


def _sender(page) -> str:  # noqa: F811
    return "rest:" + page.evaluate("JSON.parse(localStorage.getItem('posbot.chat.v1')).sender")


def test_a_verdict_and_a_related_question_are_buttons_in_the_widget(running_bot, page):  # noqa: F811
    bot, store = running_bot
    page.goto(f"{bot.url}/chat")
    page.wait_for_selector(".msg.bot")
    _send(page, "解除停用要收费吗")
    assert _bot_texts(page)[-1].startswith(OFFER)
    buttons = page.locator(".quick-replies button").all_inner_texts()
    assert buttons[:2] == ["👍 有帮助", "👎 没帮助"] and len(buttons) == 5
    before = page.locator(".msg.bot").count()
    page.click(".quick-replies button >> text=👎 没帮助")
    page.wait_for_function(f"document.querySelectorAll('.msg.bot').length > {before}")
    assert _bot_texts(page)[-1].startswith("抱歉这个回答没能帮到您")
    assert page.locator(".quick-replies button").all_inner_texts() == ["转人工客服"]
    with store.session() as session:
        row = session.scalars(
            select(AnswerFeedback).where(AnswerFeedback.verdict == "not_helpful")
        ).all()[-1]
    assert (row.intent, row.response, row.masked_text) == (
        "ask_fees",
        "utter_fees",
        "解除停用要收费吗",
    )


def test_the_rating_after_a_hand_back_is_clicked_in_the_widget(running_bot, page):  # noqa: F811
    bot, store = running_bot
    page.goto(f"{bot.url}/chat")
    page.wait_for_selector(".msg.bot")
    _send(page, "转人工")
    sender = _sender(page)
    _agent_call(f"{bot.url}/agent/conversations/{sender}/release", "POST", {})
    page.wait_for_selector(".quick-replies button >> text=5分 非常满意", timeout=10_000)
    before = page.locator(".msg.bot").count()
    page.click(".quick-replies button >> text=4分 满意")
    page.wait_for_function(f"document.querySelectorAll('.msg.bot').length > {before}")
    assert _bot_texts(page)[-1] == "感谢您的评价（4 分）！我们会继续改进服务。"
    with store.session() as session:
        scores = session.scalars(
            select(SatisfactionRating.score).where(SatisfactionRating.agent_id == "alice")
        ).all()
    assert 4 in scores
