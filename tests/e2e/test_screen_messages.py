"""Screen messages, the triage of "it doesn't work", fees and English over the REST channel."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.model]


def texts(replies: list[dict]) -> str:
    return "\n".join(reply.get("text", "") for reply in replies)


def payloads(replies: list[dict]) -> list[str]:
    return [button["payload"] for reply in replies for button in reply.get("buttons", [])]


def test_a_restricted_code_on_the_screen_leads_into_the_suspension_flow(running_bot):
    bot, _ = running_bot
    sender = "e2e-code-03"
    replies = bot.say(sender, "刷卡显示03")
    reply = texts(replies)
    assert "“03”是交易应答码，一般表示：无效商户" in reply
    assert "终端或商户被限制交易" in reply and "提交解除停用申请" in reply
    assert payloads(replies) == [
        "/ask_suspend_reason",
        "/ask_required_documents",
        "/submit_application",
    ]
    # Each button is pressed right after the message that offered it.
    assert "常见有这几类原因" in texts(bot.say(sender, "/ask_suspend_reason"))
    assert "/ask_required_documents" in payloads(bot.say(sender, "刷卡还是显示03"))
    assert "材料要看停用原因" in texts(bot.say(sender, "/ask_required_documents"))
    assert "/submit_application" in payloads(bot.say(sender, "刷卡显示03"))
    assert "15位商户号" in texts(bot.say(sender, "/submit_application"))


def test_codes_as_merchants_type_them(running_bot):
    bot, _ = running_bot
    assert "“A0”是交易应答码，一般表示：MAC校验错" in texts(bot.say("e2e-a0", "错误码 ａ０"))
    reply = texts(bot.say("e2e-51", "交易失败 返回码51"))
    assert "余额不足" in reply and "您的POS机没有问题" in reply
    reply = texts(bot.say("e2e-screen", "刷卡显示无效商户"))
    assert "您看到的提示是“无效商户”" in reply and "终端或商户被限制交易" in reply


def test_an_unknown_code_gets_an_honest_answer_and_a_human_offer(running_bot):
    bot, _ = running_bot
    replies = bot.say("e2e-unknown-code", "pos机显示X7是什么意思")
    assert "这个代码（X7）我们的对照表里没有" in texts(replies)
    assert payloads(replies) == ["/request_human"]


def test_a_vague_symptom_gets_one_question_and_the_answer_routes(running_bot):
    bot, _ = running_bot
    sender = "e2e-triage"
    replies = bot.say(sender, "我的pos机用不了了")
    assert "屏幕上显示什么" in texts(replies)
    offered = payloads(replies)
    assert len(offered) == 5
    restricted = next(p for p in offered if '"restricted"' in p)
    assert restricted == '/report_not_working{"triage_answer":"restricted"}'
    replies = bot.say(sender, restricted)
    assert "终端或商户被限制交易" in texts(replies)
    assert "/submit_application" in payloads(replies)
    assert payloads(bot.say(sender, "刷不了卡了")) == offered
    hardware = next(p for p in offered if '"hardware"' in p)
    assert "机器故障可以先这样排查" in texts(bot.say(sender, hardware))


def test_fees_are_answered_consistently_with_the_scam_warning(running_bot):
    bot, _ = running_bot
    sender = "e2e-fees"
    reply = texts(bot.say(sender, "解除停用要收费吗"))
    assert "解除停用本身不收任何费用" in reply
    assert "机具押金、年费、流量卡（SIM）费用" in reply and "都是诈骗" in reply
    assert "解除停用不收取任何费用" in texts(bot.say(sender, "有人让我交2000解冻费"))


def test_an_english_message_gets_a_short_english_reply(running_bot):
    bot, _ = running_bot
    reply = texts(bot.say("e2e-english", "Hi, my POS terminal was blocked. What should I do?"))
    assert reply.startswith("Sorry, this assistant only works in Chinese")
    assert "hotline" in reply
    # Chinese with the Latin words merchants use stays Chinese.
    reply = texts(bot.say("e2e-mixed", "pos机连不上wifi"))
    assert "网络问题可以先试试" in reply


def test_a_vendor_code_during_verification_is_not_a_failed_phone_try(running_bot):
    # "PN-0093" holds four digits after a dash: the phone_last4 pattern sees them, the slot
    # mapping must not take them from a message about a screen code.
    bot, _ = running_bot
    sender = "e2e-code-in-form"
    assert "15位商户号" in texts(bot.say(sender, "查一下申请进度"))
    assert "后四位" in texts(bot.say(sender, "898310058121234"))
    reply = texts(bot.say(sender, "刷卡显示PN-0093"))
    assert "不匹配" not in reply and "还可以尝试" not in reply
    assert "这个代码（PN-0093）我们的对照表里没有" in reply  # answered inside the form
    assert "身份验证通过" in texts(bot.say(sender, "5678"))
