"""Hostile WeChat callbacks: replays, clock edges, forged envelopes and odd XML.

Each rejected request must get a 4xx, never reach the bot (the stand-in for NLU and tracker)
and never trigger a customer-service message.
"""

from __future__ import annotations

import time

import pytest

from bot.channels.state.wechat import InMemoryNonceRegistry
from bot.channels.wechat.channel import WeChatInput, WeChatSettings
from tests.bot.channels.conftest import (
    ACCOUNT,
    OPENID,
    TOKEN,
    FakeBot,
    FakeWeChatApi,
    StartChannel,
    WeChatClient,
    message_xml,
    safe_body,
    signature,
    text_xml,
)

NOW = 1_790_000_000  # a fixed clock for the channel under test


def nothing_processed(bot: FakeBot, wechat_api: FakeWeChatApi) -> bool:
    return bot.messages == [] and wechat_api.sends == []


# --- replays --------------------------------------------------------------------------------


async def test_replayed_nonce_with_another_body_is_forbidden(
    start_channel: StartChannel, bot: FakeBot, wechat_api: FakeWeChatApi
) -> None:
    client = await start_channel()
    captured = client.query()
    assert (await client.post(text_xml("你好", msg_id="1"), captured))[0] == 200
    forged = text_xml("把我的商户号改成898310058125555", msg_id="2", openid="oAttacker")
    status, body = await client.post(forged, captured)
    assert (status, body) == (403, "Forbidden")
    assert bot.texts == ["你好"]
    assert wechat_api.sends == []


async def test_replayed_nonce_with_the_same_body_is_a_retry(
    start_channel: StartChannel, bot: FakeBot
) -> None:
    client = await start_channel()
    query = client.query()
    first = await client.post(text_xml("审核要多久", msg_id="5"), query)
    again = await client.post(text_xml("审核要多久", msg_id="5"), query)
    assert first == again
    assert first[0] == 200
    assert bot.texts == ["审核要多久"]


async def test_forged_requests_do_not_burn_a_nonce(
    start_channel: StartChannel, bot: FakeBot
) -> None:
    client = await start_channel()
    genuine = client.query(nonce="777")
    forged = genuine | {"signature": "0" * 40}
    assert (await client.post(text_xml("垃圾", msg_id="1"), forged))[0] == 403
    assert (await client.post(text_xml("你好", msg_id="2"), genuine))[0] == 200
    assert bot.texts == ["你好"]


async def test_replayed_msg_id_with_new_content_is_not_processed(
    start_channel: StartChannel, bot: FakeBot, wechat_api: FakeWeChatApi
) -> None:
    client = await start_channel()
    await client.post_plain(text_xml("查进度", msg_id="4242"))
    status, _ = await client.post_plain(text_xml("转人工", msg_id="4242"))
    assert status == 200
    assert bot.texts == ["查进度"]
    assert wechat_api.sends == []


async def test_replayed_safe_mode_message_is_not_processed_twice(
    start_channel: StartChannel, bot: FakeBot
) -> None:
    client = await start_channel()
    assert (await client.post_safe(text_xml("催一下", msg_id="99")))[0] == 200
    assert (await client.post_safe(text_xml("催一下", msg_id="99")))[0] == 200
    assert bot.texts == ["催一下"]


async def test_nonce_registry_forgets_after_its_lifetime() -> None:
    now = [0.0]
    registry = InMemoryNonceRegistry(ttl_seconds=600, clock=lambda: now[0])
    assert await registry.accepts("1:n", "a")
    assert await registry.accepts("1:n", "a")
    assert not await registry.accepts("1:n", "b")
    now[0] = 601.0
    assert await registry.accepts("1:n", "b")


# --- clock edges ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offset", "expected"),
    [(-300, 200), (-301, 403), (300, 200), (301, 403), (-86_400 * 365, 403), (10**10, 403)],
    ids=["5min-old", "older", "5min-ahead", "further-ahead", "a-year-old", "far-future"],
)
async def test_timestamp_window_is_five_minutes_either_side(
    start_channel: StartChannel,
    bot: FakeBot,
    settings: WeChatSettings,
    offset: int,
    expected: int,
) -> None:
    client = await start_channel(WeChatInput(settings, clock=lambda: float(NOW)))
    status, _ = await client.post_plain(text_xml("你好"), timestamp=NOW + offset)
    assert status == expected
    assert len(bot.messages) == (1 if expected == 200 else 0)


@pytest.mark.parametrize(
    "timestamp", ["", "-1", "1e9", "１７９００００００", "0x6A", " 1790000000"]
)
async def test_malformed_timestamps_are_forbidden(
    start_channel: StartChannel, bot: FakeBot, settings: WeChatSettings, timestamp: str
) -> None:
    client = await start_channel(WeChatInput(settings, clock=lambda: float(NOW)))
    query = {
        "timestamp": timestamp,
        "nonce": "1",
        "signature": signature(TOKEN, timestamp, "1"),
        "openid": OPENID,
    }
    assert (await client.post(text_xml("你好"), query))[0] == 403
    assert bot.messages == []


# --- forged envelopes -----------------------------------------------------------------------


async def test_safe_mode_with_wrong_outer_signature_is_forbidden(
    start_channel: StartChannel, bot: FakeBot, wechat_api: FakeWeChatApi
) -> None:
    client = await start_channel()
    # Right msg_signature and ciphertext, but the plain signature of another token.
    client.token = "another-token"
    status, _ = await client.post_safe(text_xml("hi"))
    assert status == 403
    assert nothing_processed(bot, wechat_api)


async def test_message_signed_with_another_token_is_forbidden(
    start_channel: StartChannel, bot: FakeBot, wechat_api: FakeWeChatApi
) -> None:
    client = await start_channel()
    other = WeChatClient(client.session, client.url, token="another-token")
    assert (await other.post_plain(text_xml("hi")))[0] == 403
    assert (await other.verify(**other.query(), echostr="1"))[0] == 403
    assert nothing_processed(bot, wechat_api)


async def test_safe_mode_without_encrypt_element_is_bad_request(
    start_channel: StartChannel, bot: FakeBot, wechat_api: FakeWeChatApi
) -> None:
    client = await start_channel()
    query = client.query() | {"encrypt_type": "aes", "msg_signature": "0" * 40}
    status, _ = await client.post(text_xml("hi"), query)
    assert status == 400
    assert nothing_processed(bot, wechat_api)


async def test_safe_mode_with_plaintext_inside_encrypt_is_bad_request(
    start_channel: StartChannel, bot: FakeBot, wechat_api: FakeWeChatApi
) -> None:
    client = await start_channel()
    status, _ = await client.post_encrypted_field("PHhtbD48L3htbD4=")  # base64 of <xml></xml>
    assert status == 400
    assert nothing_processed(bot, wechat_api)


# --- odd XML --------------------------------------------------------------------------------

FULL_BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "lol">'
    + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(9))
    + "]><xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName>"
    "<MsgType>text</MsgType><Content>&j;</Content></xml>"
)
QUADRATIC_BLOWUP = (
    f'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "{"x" * 5000}">]>'
    f"<xml><MsgType>text</MsgType><Content>{'&a;' * 5000}</Content></xml>"
)
PARAMETER_ENTITY = (
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY % remote SYSTEM "http://127.0.0.1:9/x.dtd">'
    "%remote;]><xml><MsgType>text</MsgType></xml>"
)


@pytest.mark.parametrize(
    "xml",
    [
        FULL_BILLION_LAUGHS,
        QUADRATIC_BLOWUP,
        PARAMETER_ENTITY,
        '<?xml version="1.0" encoding="gbk"?><xml><MsgType>text</MsgType></xml>',
        "<xml><MsgType>text</MsgType><Content>\x00</Content></xml>",
        f"<xml><ToUserName>{ACCOUNT}</ToUserName><MsgType>text</MsgType><Content>hi</Content></xml>",
        message_xml("text", Content="hi").replace(f"<![CDATA[{OPENID}]]>", ""),
        message_xml("", Content="hi"),
        '{"MsgType": "text", "Content": "hi"}',
        "<xml>" + "<a>" * 5000 + "</a>" * 5000 + "</xml>",
    ],
    ids=[
        "billion-laughs-10-levels",
        "quadratic-blowup",
        "parameter-entity",
        "undecodable-declared-encoding",
        "nul-character",
        "missing-from-user",
        "empty-from-user",
        "empty-msgtype",
        "json",
        "deep-nesting-no-fields",
    ],
)
async def test_hostile_xml_is_rejected_in_both_modes(
    start_channel: StartChannel, bot: FakeBot, wechat_api: FakeWeChatApi, xml: str
) -> None:
    client = await start_channel()
    plain_status, _ = await client.post_plain(xml)
    safe_status, _ = await client.post_safe(xml)
    assert (plain_status, safe_status) == (400, 400)
    assert nothing_processed(bot, wechat_api)


async def test_rejected_bodies_are_not_echoed(start_channel: StartChannel, bot: FakeBot) -> None:
    client = await start_channel()
    status, body = await client.post_plain("<xml><MsgType>text</MsgType><Content>秘密</Content>")
    assert (status, body) == (400, "Bad Request")


async def test_envelope_outside_safe_mode_is_not_decrypted(
    start_channel: StartChannel, bot: FakeBot, wechat_api: FakeWeChatApi
) -> None:
    client = await start_channel()
    # An encrypted envelope posted as plaintext has no MsgType: it is refused, not decrypted.
    status, _ = await client.post_plain(safe_body("ignored"))
    assert status == 400
    assert nothing_processed(bot, wechat_api)


async def test_unsigned_callback_is_rejected_before_its_body_is_parsed(
    start_channel: StartChannel, bot: FakeBot
) -> None:
    client = await start_channel()
    # 403 (signature) rather than 400 (XML): the body of an unsigned request is never parsed.
    status, _ = await client.post(FULL_BILLION_LAUGHS, {"timestamp": str(int(time.time()))})
    assert status == 403
    assert bot.messages == []
