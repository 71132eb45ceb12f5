"""Starts the action server and the Rasa server and talks to them over the REST channel."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import select

from bot.store.models import Case, Ticket

pytestmark = [pytest.mark.e2e, pytest.mark.model]


def texts(replies: list[dict]) -> str:
    return "\n".join(reply.get("text", "") for reply in replies)


def test_verification_then_case_status_from_the_database(running_bot):
    bot, store = running_bot
    with store.session() as session:
        case_id = session.execute(
            select(Case.case_id).where(Case.merchant_id == "898310058121234")
        ).scalar_one()
    sender = "e2e-status"
    assert "15位商户号" in texts(bot.say(sender, "查一下我的申请进度"))
    assert "后四位" in texts(bot.say(sender, "898310058121234"))
    reply = texts(bot.say(sender, "5678"))
    assert "身份验证通过" in reply
    assert f"申请单 {case_id}（终端 60013452）：审核中" in reply
    assert "预计在" in reply and "出结果" in reply
    assert "13812345678" not in reply


def test_wrong_digits_three_times_hand_over_to_a_human(running_bot):
    bot, _ = running_bot
    sender = "e2e-locked"
    bot.say(sender, "商户号898310058121234 查下进度")
    assert "不匹配" in texts(bot.say(sender, "0000"))
    assert "不匹配" in texts(bot.say(sender, "1111"))
    reply = texts(bot.say(sender, "2222"))
    assert "验证失败次数过多" in reply and "已为您转人工客服，工单号 TK" in reply
    assert bot.say(sender, "5678") == []  # paused for the bot: a human takes over


def test_faq_needs_no_verification_and_secrets_are_not_echoed(running_bot):
    bot, store = running_bot
    sender = "e2e-faq"
    assert "3-7 个工作日" in texts(bot.say(sender, "审核一般要多久啊"))
    reply = texts(bot.say(sender, "我的验证码是 839201"))
    assert "请不要发送密码" in reply and "839201" not in reply
    reply = texts(bot.say(sender, "转人工"))
    assert "工单号 TK" in reply
    with store.session() as session:
        ticket = session.execute(
            select(Ticket).where(Ticket.sender_id == f"rest:{sender}")
        ).scalar_one()
    assert "839201" not in ticket.summary
    assert os.environ.get("RASA_TELEMETRY_ENABLED") == "false"


def test_an_amount_said_earlier_is_not_taken_for_the_phone_digits(running_bot):
    bot, _ = running_bot
    sender = "e2e-amount"
    reply = texts(bot.say(sender, "有人说交2000保证金就能恢复 是不是骗子"))
    assert "不匹配" not in reply
    assert "15位商户号" in texts(bot.say(sender, "那帮我查一下申请进度"))
    reply = texts(bot.say(sender, "898310058121234"))
    assert "不匹配" not in reply and "后四位" in reply
    assert "身份验证通过" in texts(bot.say(sender, "5678"))
