"""Odd but valid messages get an answer from the whole bot (trained model, actions) over REST.

The rejected requests (bad JSON, wrong types, sizes, content types) and empty messages are
checked once, with the exact reason and that nothing reaches the bot or its logs, in
``tests/bot/channels/test_rest_hostile.py``; a password in a message is checked against every log
line and database row in ``tests/e2e/test_personal_data.py``.
"""

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
    "text", ["😡😡😡😡😡", "审核\x00要\x1b多久", "审核要多久" + "啊" * 995, "\ud83d审核要多久"]
)
def test_odd_but_valid_messages_get_an_answer(running_bot, text):
    bot, _ = running_bot
    sender = f"hostile-odd-{uuid.uuid4().hex}"  # each a new conversation (no session token)
    code, payload = post(bot.url, message(sender, text))
    assert code == 200
    assert isinstance(payload, list) and payload
    assert all(item["recipient_id"] == sender and item.get("text") for item in payload)
