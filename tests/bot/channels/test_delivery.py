"""Agent messages go out through the user's channel or the widget's inbox."""

from bot.channels import delivery
from bot.channels.delivery import DELIVERERS, deliver
from bot.channels.state.outbox import HumanOutbox


async def test_agent_messages_go_through_the_channel_or_the_widget_inbox(monkeypatch):
    box = HumanOutbox()
    monkeypatch.setattr(delivery, "OUTBOX", box)
    sent = []

    async def wechat_send(openid: str, text: str, buttons=None) -> bool:
        sent.append((openid, text))
        return True

    monkeypatch.setitem(DELIVERERS, "wechat", wechat_send)
    assert await deliver("wechat", "openid-1", "您好", "agent") == "wechat"
    assert sent == [("openid-1", "您好")]
    assert await deliver("rest", "web-abc", "您好", "agent") == "inbox"
    assert [m["text"] for m in await box.take("web-abc")] == ["您好"]
    assert await box.take("web-abc") == []


async def test_failed_channel_delivery_falls_back_to_the_inbox(monkeypatch):
    box = HumanOutbox()
    monkeypatch.setattr(delivery, "OUTBOX", box)

    async def broken(openid: str, text: str, buttons=None) -> bool:
        return False

    monkeypatch.setitem(DELIVERERS, "wechat", broken)
    assert await deliver("wechat", "openid-2", "稍等", "agent") == "inbox"
    assert [m["from"] for m in await box.take("openid-2")] == ["agent"]
