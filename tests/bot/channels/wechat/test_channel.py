"""The WeChat Official Account channel, driven through a real Sanic server and signed requests."""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import AsyncIterator

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from rasa.core.channels.channel import UserMessage
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.messages import TextMessage

from bot.channels.delivery import deliver
from bot.channels.state.ttl_cache import TtlCache
from bot.channels.state.wechat import InMemoryDeduplicator
from bot.channels.wechat.api import WeChatApiClient
from bot.channels.wechat.channel import (
    BOT_ERROR_TEXT,
    GREET_PAYLOAD,
    MAX_MESSAGE_CHARS,
    TOO_FAST_PROMPT,
    TOO_LONG_PROMPT,
    TYPE_PROMPT,
    VOICE_PROMPT,
    WeChatInput,
    WeChatSettings,
)
from bot.channels.wechat.format import (
    MAX_REPLY_BYTES,
    OPTIONS_HEADER,
    build_reply,
    option_payload,
    split_text,
)
from bot.store.tracker_store import TrackerStoreUnavailable
from tests.bot.channels.conftest import (
    ACCOUNT,
    AES_KEY,
    APP_ID,
    APP_SECRET,
    OPENID,
    TOKEN,
    FakeBot,
    FakeWeChatApi,
    StartChannel,
    message_xml,
    text_xml,
)

BUTTONS = [
    {"title": "查申请进度", "payload": "/check_case_status"},
    {"title": "转人工", "payload": "/request_human"},
]


def reply_content(body: str) -> TextMessage:
    """Parses a passive reply (it has the same fields as an incoming text message)."""
    message = parse_message(body)
    assert isinstance(message, TextMessage)
    return message


# --- URL verification -----------------------------------------------------------------------


async def test_get_verification_echoes_echostr(start_channel: StartChannel) -> None:
    client = await start_channel()
    status, content_type, body = await client.verify(**client.query(), echostr="8837461")
    assert (status, body) == (200, "8837461")
    assert content_type.startswith("text/plain")


async def test_get_verification_with_bad_signature_is_forbidden(
    start_channel: StartChannel,
) -> None:
    client = await start_channel()
    query = client.query() | {"signature": "0" * 40}
    status, _, body = await client.verify(**query, echostr="8837461")
    assert status == 403
    assert "8837461" not in body


async def test_get_verification_with_stale_timestamp_is_forbidden(
    start_channel: StartChannel,
) -> None:
    client = await start_channel()
    status, _, _ = await client.verify(**client.query(int(time.time()) - 600), echostr="1")
    assert status == 403


# --- text messages, plaintext and safe mode -------------------------------------------------


async def test_plaintext_text_message_gets_passive_reply(
    start_channel: StartChannel, bot: FakeBot
) -> None:
    client = await start_channel()
    status, body = await client.post_plain(text_xml("我的POS机为什么被停用"))
    assert status == 200
    reply = reply_content(body)
    assert reply.content == "收到：我的POS机为什么被停用"
    assert (reply.source, reply.target) == (ACCOUNT, OPENID)
    [message] = bot.messages
    assert (message.sender_id, message.input_channel) == (f"wechat:{OPENID}", "wechat")
    assert message.message_id == "1000001"
    assert message.output_channel.name() == "wechat"


async def test_safe_mode_round_trip(start_channel: StartChannel, bot: FakeBot) -> None:
    client = await start_channel()
    status, body = await client.post_safe(text_xml("审核要多久"))
    assert status == 200
    assert "收到" not in body  # the reply is encrypted
    reply = reply_content(client.decrypt_reply(body))
    assert reply.content == "收到：审核要多久"
    assert reply.target == OPENID
    assert bot.texts == ["审核要多久"]


async def test_each_user_is_a_separate_conversation(
    start_channel: StartChannel, bot: FakeBot
) -> None:
    client = await start_channel()
    await client.post_plain(text_xml("你好", msg_id="1", openid="oUserA"))
    await client.post_plain(text_xml("你好", msg_id="2", openid="oUserB"))
    assert [message.sender_id for message in bot.messages] == ["wechat:oUserA", "wechat:oUserB"]


async def test_reply_text_cannot_break_out_of_cdata(
    start_channel: StartChannel, bot: FakeBot
) -> None:
    bot.answer = lambda _text: "a]]><MsgType>news</MsgType>b"
    client = await start_channel()
    _, body = await client.post_plain(text_xml("hi"))
    assert reply_content(body).content == "a]]><MsgType>news</MsgType>b"


# --- retries and slow answers ---------------------------------------------------------------


async def test_retry_with_same_msg_id_does_not_run_the_bot_twice(
    start_channel: StartChannel, bot: FakeBot
) -> None:
    client = await start_channel()
    first = await client.post_plain(text_xml("催一下", msg_id="42"))
    retry = await client.post_plain(text_xml("催一下", msg_id="42"))
    assert len(bot.messages) == 1
    assert first[0] == retry[0] == 200
    assert reply_content(retry[1]).content == reply_content(first[1]).content == "收到：催一下"


async def test_retry_while_the_bot_is_still_thinking_gets_the_answer(
    start_channel: StartChannel, bot: FakeBot, wechat_api: FakeWeChatApi
) -> None:
    bot.delay = 0.75  # longer than the first request's 0.5 s, shorter than the retry's
    client = await start_channel()
    assert await client.post_plain(text_xml("进度", msg_id="7")) == (200, "success")
    status, body = await client.post_plain(text_xml("进度", msg_id="7"))
    assert status == 200
    assert reply_content(body).content == "收到：进度"
    assert len(bot.messages) == 1
    assert wechat_api.sends == []


async def test_slow_bot_answers_success_then_customer_service_message(
    start_channel: StartChannel, bot: FakeBot, wechat_api: FakeWeChatApi
) -> None:
    bot.delay = 0.4
    client = await start_channel(reply_seconds=0.1)
    started = time.monotonic()
    assert await client.post_plain(text_xml("查下进度", msg_id="9")) == (200, "success")
    assert time.monotonic() - started < 0.4
    [sent] = await wechat_api.wait_for_sends(1)
    assert sent == {"touser": OPENID, "msgtype": "text", "text": {"content": "收到：查下进度"}}
    assert wechat_api.token_calls == [
        {"grant_type": "client_credential", "appid": APP_ID, "secret": APP_SECRET}
    ]
    assert wechat_api.send_tokens == ["fake-access-token-1"]
    # A retry after the answer went out gets "success" and no second turn.
    assert await client.post_plain(text_xml("查下进度", msg_id="9")) == (200, "success")
    assert len(bot.messages) == 1
    assert len(wechat_api.sends) == 1


async def test_access_token_is_cached_between_sends(
    start_channel: StartChannel, bot: FakeBot, wechat_api: FakeWeChatApi
) -> None:
    bot.delay = 0.2
    client = await start_channel(reply_seconds=0.05)
    await client.post_plain(text_xml("一", msg_id="1"))
    await client.post_plain(text_xml("二", msg_id="2"))
    await wechat_api.wait_for_sends(2)
    assert len(wechat_api.sends) == 2
    assert len(wechat_api.token_calls) == 1


async def test_bot_failure_gets_an_apology(start_channel: StartChannel, bot: FakeBot) -> None:
    bot.fail = True
    client = await start_channel()
    _, body = await client.post_plain(text_xml("你好"))
    assert reply_content(body).content == BOT_ERROR_TEXT


async def test_conversation_store_down_gets_an_apology(
    start_channel: StartChannel, bot: FakeBot
) -> None:
    async def down(message: UserMessage) -> None:
        bot.messages.append(message)
        raise TrackerStoreUnavailable("tracker database unreachable")

    bot.handle_message = down  # type: ignore[method-assign]
    client = await start_channel()
    _, body = await client.post_plain(text_xml("你好"))
    assert reply_content(body).content == BOT_ERROR_TEXT


# --- long replies and buttons ---------------------------------------------------------------


async def test_long_reply_is_split_into_passive_reply_and_customer_service_messages(
    start_channel: StartChannel, bot: FakeBot, wechat_api: FakeWeChatApi
) -> None:
    lines = [f"第{number}条：解除停用需要准备的材料和注意事项说明。" for number in range(120)]
    bot.answer = lambda _text: "\n".join(lines)
    client = await start_channel()
    status, body = await client.post_plain(text_xml("要准备什么材料"))
    assert status == 200
    first = reply_content(body).content
    assert len(first.encode()) <= MAX_REPLY_BYTES
    assert first.startswith("第0条")
    expected_chunks = len(split_text("\n".join(lines)))
    assert expected_chunks >= 3
    sends = await wechat_api.wait_for_sends(expected_chunks - 1)
    rest = [sent["text"]["content"] for sent in sends]
    assert len(rest) == expected_chunks - 1
    assert all(len(chunk.encode()) <= MAX_REPLY_BYTES for chunk in rest)
    assert "\n".join([first, *rest]) == "\n".join(lines)
    assert {sent["touser"] for sent in sends} == {OPENID}


async def test_buttons_become_numbered_options_answered_by_digits(
    start_channel: StartChannel, bot: FakeBot
) -> None:
    bot.buttons = BUTTONS
    client = await start_channel()
    _, body = await client.post_plain(text_xml("你好", msg_id="1"))
    assert reply_content(body).content == (
        f"收到：你好\n{OPTIONS_HEADER}\n1. 查申请进度\n2. 转人工"
    )
    await client.post_plain(text_xml("1", msg_id="2"))
    await client.post_plain(text_xml("２", msg_id="3"))  # full-width digit
    await client.post_plain(text_xml("3", msg_id="4"))  # no such option: plain text
    assert bot.texts == ["你好", "/check_case_status", "/request_human", "3"]


async def test_digits_are_plain_text_when_the_last_answer_had_no_buttons(
    start_channel: StartChannel, bot: FakeBot
) -> None:
    bot.buttons = BUTTONS
    client = await start_channel()
    await client.post_plain(text_xml("你好", msg_id="1"))
    bot.buttons = []
    await client.post_plain(text_xml("审核要多久", msg_id="2"))
    await client.post_plain(text_xml("1", msg_id="3"))
    assert bot.texts == ["你好", "审核要多久", "1"]


# --- other message types --------------------------------------------------------------------


async def test_subscribe_event_greets_once(start_channel: StartChannel, bot: FakeBot) -> None:
    client = await start_channel()
    event = message_xml("event", msg_id=None, create_time=int(time.time()), Event="subscribe")
    _, body = await client.post_plain(event)
    _, retry_body = await client.post_plain(event)
    assert bot.texts == [GREET_PAYLOAD]
    greeting = f"收到：{GREET_PAYLOAD}"
    assert reply_content(body).content == reply_content(retry_body).content == greeting


async def test_other_events_are_acknowledged_without_the_bot(
    start_channel: StartChannel, bot: FakeBot
) -> None:
    client = await start_channel()
    event = message_xml("event", msg_id=None, Event="unsubscribe")
    assert await client.post_plain(event) == (200, "success")
    assert bot.messages == []


async def test_voice_with_recognition_goes_to_the_bot(
    start_channel: StartChannel, bot: FakeBot
) -> None:
    client = await start_channel()
    voice = message_xml("voice", MediaId="m1", Format="amr", Recognition="转人工")
    _, body = await client.post_plain(voice)
    assert bot.texts == ["转人工"]
    assert reply_content(body).content == "收到：转人工"


async def test_voice_without_recognition_asks_to_type(
    start_channel: StartChannel, bot: FakeBot
) -> None:
    client = await start_channel()
    _, body = await client.post_plain(message_xml("voice", MediaId="m1", Format="amr"))
    assert reply_content(body).content == VOICE_PROMPT
    assert bot.messages == []


@pytest.mark.parametrize(
    "xml",
    [
        # A photo is a document for the merchant's case: tests/bot/channels/test_documents.py.
        message_xml("location", Location_X="31.2", Location_Y="121.4", Label="上海"),
        message_xml("text", Content="   "),
    ],
)
async def test_non_text_messages_get_a_polite_reply(
    start_channel: StartChannel, bot: FakeBot, xml: str
) -> None:
    client = await start_channel()
    _, body = await client.post_plain(xml)
    assert reply_content(body).content == TYPE_PROMPT
    assert bot.messages == []


# --- rejected requests ----------------------------------------------------------------------

BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
    "<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName>"
    "<MsgType>text</MsgType><Content>&lol2;</Content></xml>"
)
EXTERNAL_ENTITY = (
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    "<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName>"
    "<MsgType>text</MsgType><Content>&xxe;</Content></xml>"
)
DOCTYPE_ONLY = "<!DOCTYPE xml><xml><MsgType>text</MsgType></xml>"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("这不是XML", 400),
        ("<xml><ToUserName>a</xml>", 400),
        ("", 400),
        (BILLION_LAUGHS, 400),
        (EXTERNAL_ENTITY, 400),
        (DOCTYPE_ONLY, 400),
        ("<notxml><MsgType>text</MsgType></notxml>", 400),
        (message_xml("text", Content="hi").replace("<MsgType><![CDATA[text]]></MsgType>", ""), 400),
        (message_xml("text", Content="hi").replace("</xml>", "<MsgType>text</MsgType></xml>"), 400),
        (message_xml("text", Content="x" * (64 * 1024)), 413),
    ],
    ids=[
        "non-xml",
        "malformed",
        "empty",
        "billion-laughs",
        "external-entity",
        "doctype",
        "wrong-root",
        "missing-msgtype",
        "duplicate-msgtype",
        "oversized",
    ],
)
async def test_bad_plaintext_bodies_are_rejected(
    start_channel: StartChannel,
    bot: FakeBot,
    body: str,
    expected: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = await start_channel()
    with caplog.at_level(logging.WARNING, logger="bot.channels.wechat.channel"):
        status, _ = await client.post_plain(body)
    assert status == expected
    assert bot.messages == []
    assert any("Rejected a WeChat callback" in record.message for record in caplog.records)
    assert not any(
        "lol" in record.message or "x" * 20 in record.message for record in caplog.records
    )


async def test_oversized_chunked_body_is_rejected(
    start_channel: StartChannel, bot: FakeBot
) -> None:
    client = await start_channel()

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b"<xml>" + b"x" * 8192

    async with client.session.post(client.url, params=client.query(), data=chunks()) as response:
        assert response.status == 413
    assert bot.messages == []


@pytest.mark.parametrize(
    "query",
    [
        {"signature": "0" * 40},
        {"nonce": "654321"},
        {"timestamp": "not-a-number"},
    ],
    ids=["bad-signature", "unsigned-nonce", "bad-timestamp"],
)
async def test_plaintext_with_bad_query_is_forbidden(
    start_channel: StartChannel, bot: FakeBot, query: dict[str, str]
) -> None:
    client = await start_channel()
    status, _ = await client.post(text_xml("hi"), client.query() | query)
    assert status == 403
    assert bot.messages == []


@pytest.mark.parametrize("offset", [-600, 600], ids=["stale", "future"])
async def test_signed_but_stale_or_future_timestamp_is_forbidden(
    start_channel: StartChannel, bot: FakeBot, offset: int
) -> None:
    client = await start_channel()
    status, _ = await client.post_plain(text_xml("hi"), timestamp=int(time.time()) + offset)
    assert status == 403
    assert bot.messages == []


async def test_safe_mode_with_bad_msg_signature_is_forbidden(
    start_channel: StartChannel, bot: FakeBot
) -> None:
    client = await start_channel()
    status, _ = await client.post_safe(text_xml("hi"), msg_signature="0" * 40)
    assert status == 403
    assert bot.messages == []


async def test_safe_mode_with_wrong_app_id_is_forbidden(
    start_channel: StartChannel, bot: FakeBot
) -> None:
    client = await start_channel()
    other_account = WeChatCrypto(TOKEN, AES_KEY, "wxffffffffffffffff")
    status, _ = await client.post_safe(text_xml("hi"), crypto=other_account)
    assert status == 403
    assert bot.messages == []


def _encrypt_raw(plaintext: bytes) -> str:
    key = base64.b64decode(AES_KEY + "=")
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plaintext) + encryptor.finalize()).decode()


@pytest.mark.parametrize(
    "encrypted",
    [
        "!!!这不是base64###",
        base64.b64encode(b"short").decode(),
        _encrypt_raw(b"0123456789abcdef" + b"\x00" * 16),  # padding byte 0
        _encrypt_raw(b"0123456789abcdef" + b"\x07" * 15 + b"\x05"),  # inconsistent padding
        _encrypt_raw(b"0123456789abcdef" + b"\xff\xff\xff\xff" + b"\x0c" * 12),  # bad length
    ],
    ids=["not-base64", "not-whole-blocks", "zero-padding", "bad-padding", "bad-length"],
)
async def test_safe_mode_with_undecryptable_payload_is_bad_request(
    start_channel: StartChannel, bot: FakeBot, encrypted: str
) -> None:
    client = await start_channel()
    status, _ = await client.post_encrypted_field(encrypted)
    assert status == 400
    assert bot.messages == []


async def test_safe_mode_with_missing_msgtype_inside_is_bad_request(
    start_channel: StartChannel, bot: FakeBot
) -> None:
    client = await start_channel()
    inner = text_xml("hi").replace("<MsgType><![CDATA[text]]></MsgType>", "")
    status, _ = await client.post_safe(inner)
    assert status == 400
    assert bot.messages == []


async def test_safe_mode_with_entities_inside_is_bad_request(
    start_channel: StartChannel, bot: FakeBot
) -> None:
    client = await start_channel()
    status, _ = await client.post_safe(BILLION_LAUGHS)
    assert status == 400
    assert bot.messages == []


async def test_unknown_encrypt_type_is_bad_request(
    start_channel: StartChannel, bot: FakeBot
) -> None:
    client = await start_channel()
    status, _ = await client.post(text_xml("hi"), client.query() | {"encrypt_type": "rot13"})
    assert status == 400
    assert bot.messages == []


async def test_unconfigured_token_answers_503(
    start_channel: StartChannel, bot: FakeBot, caplog: pytest.LogCaptureFixture
) -> None:
    client = await start_channel(token="")
    with caplog.at_level(logging.ERROR, logger="bot.channels.wechat.channel"):
        assert (await client.post_plain(text_xml("hi")))[0] == 503
        assert (await client.verify(**client.query(), echostr="1"))[0] == 503
    assert bot.messages == []
    assert any("POSBOT_WECHAT_TOKEN" in record.message for record in caplog.records)


@pytest.mark.parametrize("aes_key", ["", "too-short", "!" * 43], ids=["unset", "short", "bad"])
async def test_safe_mode_without_usable_aes_key_answers_503(
    start_channel: StartChannel, bot: FakeBot, aes_key: str
) -> None:
    client = await start_channel(aes_key=aes_key)
    status, _ = await client.post_safe(text_xml("hi"))
    assert status == 503
    assert bot.messages == []


# --- configuration --------------------------------------------------------------------------


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSBOT_WECHAT_TOKEN", "env-token")
    monkeypatch.setenv("POSBOT_WECHAT_APPID", APP_ID)
    monkeypatch.setenv("POSBOT_WECHAT_APPSECRET", "env-secret")
    monkeypatch.setenv("POSBOT_WECHAT_AES_KEY", AES_KEY)
    monkeypatch.setenv("POSBOT_WECHAT_REPLY_SECONDS", "3.5")
    monkeypatch.delenv("POSBOT_WECHAT_API_BASE", raising=False)
    channel = WeChatInput.from_credentials(None)
    assert channel.name() == "wechat"
    assert channel.settings == WeChatSettings(
        token="env-token",
        app_id=APP_ID,
        app_secret="env-secret",
        aes_key=AES_KEY,
        api_base="https://api.weixin.qq.com",
        reply_seconds=3.5,
    )
    assert "env-token" not in repr(channel.settings)
    assert "env-secret" not in repr(channel.settings)


def test_credentials_override_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSBOT_WECHAT_TOKEN", "env-token")
    settings = WeChatSettings.load(
        {"token": "yml-token", "api_base": "http://127.0.0.1:1", "reply_seconds": 0.2}
    )
    assert (settings.token, settings.api_base, settings.reply_seconds) == (
        "yml-token",
        "http://127.0.0.1:1",
        0.2,
    )


@pytest.mark.parametrize("raw", ["abc", "0", "-1", "9"])
def test_unusable_reply_seconds_fall_back_to_the_default(raw: str) -> None:
    assert WeChatSettings.load({}, {"POSBOT_WECHAT_REPLY_SECONDS": raw}).reply_seconds == 4.0


# --- building blocks ------------------------------------------------------------------------


def test_split_text_keeps_lines_and_respects_the_byte_limit() -> None:
    text = "\n".join(["短行"] * 3 + ["长" * 1000])
    chunks = split_text(text, max_bytes=100)
    assert chunks[0] == "短行\n短行\n短行"
    assert all(len(chunk.encode()) <= 100 for chunk in chunks)
    assert "".join(chunks[1:]) == "长" * 1000


def test_build_reply_joins_messages_and_numbers_buttons_across_the_turn() -> None:
    reply = build_reply(
        [
            {"text": "第一条", "buttons": BUTTONS[:1]},
            {"text": "第二条", "buttons": BUTTONS[1:]},
            {"image": "https://example.com/a.png"},
        ]
    )
    assert reply.chunks == (
        f"第一条\n{OPTIONS_HEADER}\n1. 查申请进度\n\n"
        f"第二条\n{OPTIONS_HEADER}\n2. 转人工\n\nhttps://example.com/a.png",
    )
    assert reply.payloads == ("/check_case_status", "/request_human")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1", "/a"), ("１", "/a"), (" 2 ", "/b"), ("3", None), ("0", None), ("1个", None)],
)
def test_option_payload(text: str, expected: str | None) -> None:
    assert option_payload(text, ("/a", "/b")) == expected


async def test_deduplicator_forgets_after_the_ttl() -> None:
    now = [0.0]
    deduplicator = InMemoryDeduplicator(ttl_seconds=10, clock=lambda: now[0])
    assert await deduplicator.first_seen("a")
    assert not await deduplicator.first_seen("a")
    now[0] = 11
    assert await deduplicator.first_seen("a")


def test_ttl_cache_is_bounded() -> None:
    cache: TtlCache[str, int] = TtlCache(ttl_seconds=60, max_entries=2)
    for number, key in enumerate("abc"):
        cache.set(key, number)
    assert (cache.get("a"), cache.get("b"), cache.get("c"), len(cache)) == (None, 1, 2, 2)


async def test_api_client_refreshes_a_rejected_token(wechat_api: FakeWeChatApi) -> None:
    wechat_api.send_errors = [42001]
    client = WeChatApiClient(APP_ID, APP_SECRET, wechat_api.base_url)
    try:
        assert await client.send_text(OPENID, "你好")
    finally:
        await client.close()
    assert len(wechat_api.token_calls) == 2
    assert wechat_api.send_tokens == ["fake-access-token-1", "fake-access-token-2"]


async def test_api_client_logs_errors_instead_of_raising(
    wechat_api: FakeWeChatApi, caplog: pytest.LogCaptureFixture
) -> None:
    wechat_api.send_errors = [45015]
    client = WeChatApiClient(APP_ID, APP_SECRET, wechat_api.base_url)
    unreachable = WeChatApiClient(APP_ID, APP_SECRET, "http://127.0.0.1:9", timeout_seconds=1)
    try:
        assert not await client.send_text(OPENID, "你好")
        assert not await unreachable.send_text(OPENID, "你好")
    finally:
        await client.close()
        await unreachable.close()
    assert "45015" in caplog.text
    assert APP_SECRET not in caplog.text
    assert "fake-access-token" not in caplog.text


async def test_a_wechat_message_over_the_limit_never_reaches_the_bot(
    start_channel: StartChannel, bot: FakeBot
) -> None:
    client = await start_channel()
    status, body = await client.post_plain(text_xml("长" * (MAX_MESSAGE_CHARS + 1)))
    assert status == 200
    assert TOO_LONG_PROMPT in body
    assert bot.messages == []
    status, body = await client.post_plain(text_xml("长" * MAX_MESSAGE_CHARS, msg_id="2"))
    assert status == 200 and bot.texts == ["长" * MAX_MESSAGE_CHARS]


async def test_a_user_over_the_rate_limit_is_asked_to_slow_down(
    start_channel: StartChannel, bot: FakeBot
) -> None:
    client = await start_channel(rate_limit="2/60s")
    first = text_xml("审核要多久", msg_id="7000001")

    replies = [reply_content((await client.post_plain(first))[1]).content]
    # WeChat retrying the same message: the same answer, not counted against the limit.
    replies.append(reply_content((await client.post_plain(first))[1]).content)
    for number, words in ((2, "怎么解除停用"), (3, "要准备什么材料")):
        replies.append(
            reply_content((await client.post_plain(text_xml(words, f"700000{number}")))[1]).content
        )
    other = reply_content((await client.post_plain(text_xml("你好", "7100001", "oOTHER")))[1])

    assert replies == [
        "收到：审核要多久",
        "收到：审核要多久",
        "收到：怎么解除停用",
        TOO_FAST_PROMPT,
    ]
    assert other.content == "收到：你好"  # each user has a bucket of their own
    assert bot.texts == ["审核要多久", "怎么解除停用", "你好"]


async def test_a_rating_question_pushed_after_a_handoff_is_answered_by_its_digit(
    start_channel: StartChannel, bot: FakeBot, wechat_api: FakeWeChatApi
) -> None:
    client = await start_channel()
    rating = [
        {"title": f"{score}分", "payload": f'/rate_service{{"satisfaction_score":{score}}}'}
        for score in (1, 2, 3, 4, 5)
    ]

    route = await deliver("wechat", f"wechat:{OPENID}", "请为本次服务打分", "bot", rating)
    await client.post_plain(text_xml("5", msg_id="8800001"))

    assert route == "wechat"
    [sent] = await wechat_api.wait_for_sends(1)
    assert sent["text"]["content"] == (
        f"请为本次服务打分\n{OPTIONS_HEADER}\n1. 1分\n2. 2分\n3. 3分\n4. 4分\n5. 5分"
    )
    assert bot.texts == ['/rate_service{"satisfaction_score":5}']


async def test_messages_of_one_user_sent_at_once_are_limited_too(
    start_channel: StartChannel, bot: FakeBot
) -> None:
    client = await start_channel(rate_limit="2/60s")
    posts = [client.post_plain(text_xml(f"问题{n}", msg_id=f"760000{n}")) for n in range(6)]

    replies = [reply_content(body).content for _, body in await asyncio.gather(*posts)]

    assert replies.count(TOO_FAST_PROMPT) == 4
    assert len(bot.texts) == 2
