"""Handoffs and the clock through the real servers: queue position inside the hours, idle
resume and the hand-back notice; outside the hours a message or a call-back booking that the
agent desk lists, FAQ answers meanwhile, and forged payloads that book nothing."""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot import runtime
from bot.channels.sessions import SESSION_HEADER
from bot.clock import china_now
from bot.store.database import CaseStore
from bot.store.models import HandoffTiming, Ticket
from bot.store.seed import seed_demo_data
from tests.conftest import ROOT
from tests.e2e.conftest import (
    AGENT_TOKEN,
    AGENT_TOKENS,
    E2E_HOTLINE,
    E2E_RATE_LIMIT,
    E2E_SERVICE_HOURS,
    MODEL,
    Bot,
)

pytestmark = [pytest.mark.e2e, pytest.mark.model]

QUEUE = re.compile(r"您前面还有 (\d+) 位在等待，预计约 (\d+) 分钟内接入")
REVIEW_TIME = "3-7 个工作日"


def texts(replies: list[dict]) -> str:
    return "\n".join(reply.get("text", "") for reply in replies)


def buttons(replies: list[dict]) -> list[dict]:
    return [button for reply in replies for button in reply.get("buttons") or []]


def agent_call(url: str, method: str = "GET", body: dict | None = None, token: str = AGENT_TOKEN):
    request = urllib.request.Request(
        url,
        method=method,
        data=json.dumps(body).encode("utf-8") if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def inbox(bot: Bot, sender: str) -> list[str]:
    request = urllib.request.Request(
        f"{bot.url}/chat/inbox?sender={sender}", headers={SESSION_HEADER: bot.tokens[sender]}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return [message["text"] for message in json.loads(response.read())["messages"]]


# --- inside the hours (the shared bot: POSBOT_HANDOFF_HOURS unset, agents always there) ---


def test_the_queue_position_grows_with_each_waiting_conversation(running_bot):
    bot, _ = running_bot
    first = QUEUE.search(texts(bot.say("e2e-queue-1", "转人工")))
    second = QUEUE.search(texts(bot.say("e2e-queue-2", "我要人工客服")))
    assert first and second, "the handoff reply gives the queue position"
    assert int(second.group(1)) == int(first.group(1)) + 1
    # At least a minute; with no history, 5 minutes (the default) per conversation ahead.
    assert int(second.group(2)) >= 1


def test_an_idle_handoff_goes_back_to_the_bot_on_the_next_message(running_bot):
    bot, store = running_bot
    sender = "e2e-idle"
    assert "已为您转人工客服" in texts(bot.say(sender, "转人工"))
    assert bot.say(sender, "有人吗") == []  # paused: a human is in charge
    # Nobody answered for 31 minutes (the ticket is made older; the default idle time is 30).
    with store.session() as session:
        ticket = session.execute(
            select(Ticket).where(Ticket.sender_id == f"rest:{sender}")
        ).scalar_one()
        ticket.created_at -= timedelta(minutes=31)
    reply = texts(bot.say(sender, "审核要多久"))
    assert reply.index("人工客服暂时没能回复您") < reply.index(REVIEW_TIME)
    waiting = agent_call(f"{bot.url}/agent/conversations")["conversations"]
    assert f"rest:{sender}" not in [c["sender_id"] for c in waiting]
    with store.session() as session:
        ticket = session.execute(
            select(Ticket).where(Ticket.sender_id == f"rest:{sender}")
        ).scalar_one()
        assert ticket.status == "closed"
        assert session.get(HandoffTiming, ticket.ticket_id).closed_by == "idle"


def test_an_agent_hands_back_and_the_merchant_is_told(running_bot):
    bot, store = running_bot
    sender = "web-" + "0123456789abcdef01234567"  # a widget's id: its inbox is readable
    bot.say(sender, "转人工")
    conversation = f"{bot.url}/agent/conversations/rest:{sender}"
    agent_call(f"{conversation}/reply", "POST", {"text": "您好，我是客服小王"})
    released = agent_call(f"{conversation}/release", "POST", {})
    assert released["resumed"] is True and len(released["closed_tickets"]) == 1
    assert inbox(bot, sender) == [
        "您好，我是客服小王",
        "人工客服已结束本次服务，接下来由智能助手继续为您解答。",
        # The one-question rating of the human conversation (docs/feedback.md).
        "本次人工服务已结束。请为客服的服务打个分（5 分最满意）：",
    ]
    assert REVIEW_TIME in texts(bot.say(sender, "审核要多久"))
    with store.session() as session:
        timing = session.get(HandoffTiming, released["closed_tickets"][0])
        assert timing.closed_by == "alice"
        assert timing.picked_up_at is not None and timing.closed_at >= timing.picked_up_at


# --- outside the hours (a bot of its own whose window excludes the present) ---


def closed_window() -> str:
    """A working-day window that does not contain the present China time."""
    return "14:00-18:00" if china_now().hour < 11 else "02:00-06:00"


@pytest.fixture(scope="module")
def closed_bot(tmp_path_factory) -> Iterator[tuple[Bot, CaseStore]]:
    if not MODEL.exists():
        pytest.fail(f"no trained model at {MODEL}: run `make test` (it trains first)")
    workdir = tmp_path_factory.mktemp("e2e-closed")
    store = CaseStore(f"sqlite:///{workdir / 'cases.db'}")
    store.create_schema()
    seed_demo_data(store)
    env = {
        "POSBOT_DB_URL": store.url,
        "POSBOT_AGENT_TOKENS": AGENT_TOKENS,
        "POSBOT_RATE_LIMIT": E2E_RATE_LIMIT,
        "POSBOT_HOTLINE": E2E_HOTLINE,
        "POSBOT_SERVICE_HOURS": E2E_SERVICE_HOURS,
        "POSBOT_PROVIDER_NAME": "测试收单",
        "POSBOT_OPERATOR_FILE": os.devnull,
        "POSBOT_HANDOFF_HOURS": closed_window(),
    }
    try:
        with runtime.running_bot(
            MODEL, env=env, workdir=workdir, cwd=ROOT, rasa_ready_seconds=180,
            endpoints={"nlg": {"type": "bot.nlg.OperatorFactsNLG"}},
        ) as bot:  # fmt: skip
            yield Bot(bot.url), store
    finally:
        store.dispose()


def after_hours(bot: Bot) -> list[dict]:
    return agent_call(f"{bot.url}/agent/after-hours")["requests"]


def test_outside_the_hours_a_callback_is_booked_and_the_bot_keeps_answering(closed_bot):
    bot, _ = closed_bot
    sender = "e2e-callback"
    replies = bot.say(sender, "转人工")
    assert "现在是人工客服的非服务时间" in texts(replies)
    assert f"工作日 {closed_window()}" in texts(replies)
    offered = buttons(replies)
    assert offered[0] == {"title": "给客服留言", "payload": "/leave_message"}
    slots = offered[1:]
    assert len(slots) == 4 and all(b["payload"].startswith("/book_callback{") for b in slots)
    # Not paused: FAQ questions are answered meanwhile.
    assert REVIEW_TIME in texts(bot.say(sender, "审核要多久"))
    # The slot buttons were offered two messages ago: a payload is honoured only right after.
    replies = bot.say(sender, "预约回电")
    slots = buttons(replies)
    chosen = slots[1]
    assert "请输入客服回电的手机号" in texts(bot.say(sender, chosen["payload"]))
    # A wrong number reads like a code (SecretGuard): warned, never echoed; the booking waits.
    warned = texts(bot.say(sender, "12345678901"))
    assert "请不要发送密码" in warned and "12345678901" not in warned
    booked = texts(bot.say(sender, "13912345678"))
    assert f"已预约回电：{chosen['title']}" in booked and "139****5678" in booked
    assert "13912345678" not in booked
    (request,) = [r for r in after_hours(bot) if r["sender_id"] == f"rest:{sender}"]
    slot_value = json.loads(chosen["payload"].split("book_callback", 1)[1])["callback_slot"]
    assert (request["kind"], request["phone"], request["callback_at"]) == (
        "callback",
        "13912345678",
        f"{slot_value}:00",
    )
    assert request["ticket_id"] in booked


def test_a_verified_merchant_is_called_on_the_registered_phone(closed_bot):
    bot, _ = closed_bot
    sender = "e2e-callback-verified"
    bot.say(sender, "查一下申请进度 商户号898310058121234")
    bot.say(sender, "5678")
    slots = buttons(bot.say(sender, "预约回电"))
    booked = texts(bot.say(sender, slots[0]["payload"]))
    assert "138****5678" in booked and "13812345678" not in booked
    (request,) = [r for r in after_hours(bot) if r["sender_id"] == f"rest:{sender}"]
    assert (request["merchant_id"], request["phone"]) == ("898310058121234", "13812345678")


def test_outside_the_hours_a_message_is_left_for_the_agents(closed_bot):
    bot, _ = closed_bot
    sender = "e2e-message"
    bot.say(sender, "转人工")
    assert "请直接输入您想留给客服的话" in texts(bot.say(sender, "/leave_message"))
    left = texts(bot.say(sender, "打印机坏了，明天上午打我13812345678"))
    assert "留言已记录" in left
    (request,) = [r for r in after_hours(bot) if r["sender_id"] == f"rest:{sender}"]
    assert request["kind"] == "message" and request["phone"] is None
    assert request["message"] == "打印机坏了，明天上午打我138****5678"
    assert REVIEW_TIME in texts(bot.say(sender, "审核要多久"))


def test_forged_and_foreign_slot_payloads_book_nothing(closed_bot):
    bot, _ = closed_bot
    owner, other = "e2e-forge-owner", "e2e-forge-other"
    slots = buttons(bot.say(owner, "预约回电"))
    payload = slots[0]["payload"]
    # Another conversation replays the owner's button: not offered to it, read as text.
    bot.say(other, payload)
    bot.say(other, "13900001111")
    # The owner alters the time of an offered button (to a time no button ever offers).
    altered = re.sub(r'T\d\d:\d\d"', 'T05:45"', payload)
    assert altered != payload
    bot.say(owner, altered)
    bot.say(owner, "13900001111")
    senders = [r["sender_id"] for r in after_hours(bot)]
    assert f"rest:{other}" not in senders and f"rest:{owner}" not in senders


def test_the_after_hours_list_needs_an_agent_token(closed_bot):
    bot, _ = closed_bot
    for token in ("", "not-a-token-0123456789"):
        with pytest.raises(urllib.error.HTTPError) as error:
            agent_call(f"{bot.url}/agent/after-hours", token=token)
        assert error.value.code == 401


def test_an_agent_marks_an_after_hours_request_done(closed_bot):
    bot, store = closed_bot
    sender = "e2e-done"
    bot.say(sender, "转人工")
    bot.say(sender, "/leave_message")
    bot.say(sender, "请尽快联系我")
    (request,) = [r for r in after_hours(bot) if r["sender_id"] == f"rest:{sender}"]
    done_url = f"{bot.url}/agent/after-hours/{request['ticket_id']}/done"

    assert agent_call(done_url, "POST") == {"ticket_id": request["ticket_id"], "done": True}
    assert f"rest:{sender}" not in [r["sender_id"] for r in after_hours(bot)]
    for url, token, status in (
        (done_url, AGENT_TOKEN, 409),  # already done
        (f"{bot.url}/agent/after-hours/TK000000000000/done", AGENT_TOKEN, 404),
        (f"{bot.url}/agent/after-hours/{'9' * 65}/done", AGENT_TOKEN, 404),
        (done_url, "", 401),
        (done_url, "not-a-token-0123456789", 401),
    ):
        with pytest.raises(urllib.error.HTTPError) as error:
            agent_call(url, "POST", token=token)
        assert error.value.code == status, url
    with store.session() as session:
        timing = session.get(HandoffTiming, request["ticket_id"])
        assert timing.closed_by == "alice" and timing.closed_at is not None
