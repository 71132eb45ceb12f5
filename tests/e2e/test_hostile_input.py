"""Bad and hostile input to the REST channel: a precise 4xx or a polite reply, never a 500."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.model]


def post(url: str, body: bytes, content_type: str = "application/json") -> tuple[int, object]:
    request = urllib.request.Request(
        f"{url}/webhooks/rest/webhook", data=body, headers={"Content-Type": content_type}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def message(sender: str, text: object) -> bytes:
    return json.dumps({"sender": sender, "message": text}).encode("utf-8")


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (b"[1, 2]", "application/json", 400),
        (b'{"sender": "a"}', "application/json", 400),
        (b'{"sender": 5, "message": "hi"}', "application/json", 400),
        (b'{"sender": "a", "message": "hi", "metadata": [1]}', "application/json", 400),
        (b"\xff\xfe\xfa", "application/json", 400),
        (
            '{"sender": "a", "message": "\ud83d"}'.encode("utf-8", "surrogatepass"),
            "application/json",
            400,
        ),
        (
            b'{"sender": "a", "message": "hi", "metadata": ' + b"[" * 8000 + b"]" * 8000 + b"}",
            "application/json",
            400,
        ),
        (message("a", "hi"), "text/plain", 415),
        (b"sender=a&message=hi", "application/x-www-form-urlencoded", 415),
        (message("a", "长" * 1001), "application/json", 413),
        (message("a", "x" * 10_000), "application/json", 413),
        (b'{"sender": "a", "message": "' + b"a" * (1024 * 1024) + b'"}', "application/json", 413),
    ],
)
def test_bad_requests_get_a_precise_client_error(running_bot, body, content_type, status):
    bot, _ = running_bot
    code, payload = post(bot.url, body, content_type)
    assert code == status
    assert isinstance(payload, dict) and payload["error"]


@pytest.mark.parametrize("text", ["", "   ", "\u200b\u0007"])
def test_empty_messages_get_a_polite_hint(running_bot, text):
    bot, _ = running_bot
    code, payload = post(bot.url, message("hostile-empty", text))
    assert code == 200
    assert payload == [
        {"recipient_id": "hostile-empty", "text": "请输入您的问题，例如：POS机为什么被停用？"}
    ]


@pytest.mark.parametrize(
    "text", ["😡😡😡😡😡", "审核\x00要\x1b多久", "审核要多久" + "啊" * 995, "\ud83d审核要多久"]
)
def test_odd_but_valid_messages_get_an_answer(running_bot, text):
    bot, _ = running_bot
    sender = f"hostile-odd-{uuid.uuid4().hex}"  # each a new conversation (no session token)
    code, payload = post(bot.url, message(sender, text))
    assert code == 200
    assert isinstance(payload, list) and payload
    assert all(item["recipient_id"] == sender and item.get("text") for item in payload)


def test_a_password_never_reaches_the_logs(running_bot, tmp_path_factory):
    bot, _ = running_bot
    code, payload = post(bot.url, message("hostile-secret", "我的支付密码是 918273，帮我查进度"))
    assert code == 200
    assert "请不要发送密码" in payload[0]["text"]
    assert "918273" not in json.dumps(payload, ensure_ascii=False)
    logs = [p for p in tmp_path_factory.getbasetemp().rglob("*.log")]
    assert logs and all("918273" not in p.read_text(errors="replace") for p in logs)
