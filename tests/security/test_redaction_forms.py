"""Issue 11, item 3: secrets and personal numbers in every form found in the attack are masked
everywhere, and the bot says it masked something only when it did.

For each form: (a) the text the channel passes on and the masked text, (b) the events a real
``RedactingSQLTrackerStore`` (SQLite) stores for a conversation holding it as user text, as an
entity and as a slot value (and as a JSON number), (c) a log line written through the redacting
log record factory, (d) the warning reply, which claims masking only for a masked secret.
"""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.training_data.message import Message
from sqlalchemy import text

from actions.secret_warning import (
    UTTER_SECRET_MASKED,
    UTTER_SECRET_WARNING,
    secret_warning_response,
)
from bot.logging_redaction import install
from bot.nlu.secret_guard import SHARE_SECRET_INTENT, SecretGuard
from bot.redaction import mask_pii, mask_sensitive
from bot.store.tracker_store import RedactingSQLTrackerStore
from tests.conftest import ROOT
from tests.security.pii_text import digits_of, stored_strings

SECRET = "secret"
NUMBER = "number"

# (form, value that must disappear, what mask_pii makes of the form, kind)
FORMS = [
    ("密码是：123456", "123456", "密码是：******", SECRET),
    ("密码，123456", "123456", "密码，******", SECRET),
    ("密码（123456）", "123456", "密码（******）", SECRET),
    ('密码是"123456"', "123456", '密码是"******"', SECRET),
    ("口令是：abc123", "abc123", "口令是：******", SECRET),
    ("登录密码为:Abc12345", "Abc12345", "登录密码为:******", SECRET),
    ("验证码 是 8 8 8 8 8 8", "888888", "验证码 是 ******", SECRET),
    ("验证码 1 2 3 4 5 6", "123456", "验证码 ******", SECRET),
    ("验证码 8-8-8-8-8-8", "888888", "验证码 ******", SECRET),
    ("验证码是123-456", "123456", "验证码是******", SECRET),
    ("验证码发你了 482913", "482913", "验证码发你了 ******", SECRET),
    ("PIN是 1 2 3 4", "1234", "PIN是 ******", SECRET),
    ("支付密码 1 2 3 4 5 6", "123456", "支付密码 ******", SECRET),
    ("password: x", "x", "password: ******", SECRET),
    ("pwd=x", "x", "pwd=******", SECRET),
    ("密 码 123456", "123456", "密 码 ******", SECRET),
    ("1381234 5678", "13812345678", "138****5678", NUMBER),
    ("138.1234.5678", "13812345678", "138****5678", NUMBER),
    ("（138）1234-5678", "13812345678", "（138****5678", NUMBER),
    ("138/1234/5678", "13812345678", "138****5678", NUMBER),
    ("1 3 8 1 2 3 4 5 6 7 8", "13812345678", "138****5678", NUMBER),
    ("一三八 一二三四 五六七八", "13812345678", "138****5678", NUMBER),
    ("卡号6222  0212  3456  7890  128", "6222021234567890128", "卡号6222***********0128", NUMBER),
    ("卡号6222.0212.3456.7890.128", "6222021234567890128", "卡号6222***********0128", NUMBER),
    ("卡号62220212 34567890 128", "6222021234567890128", "卡号6222***********0128", NUMBER),
    ("卡号622202 1234567890128", "6222021234567890128", "卡号6222***********0128", NUMBER),
    ("卡号62 2202 123 4567890 128", "6222021234567890128", "卡号6222***********0128", NUMBER),
]
# Messages that only mention a secret: nothing to mask, and no claim that something was.
MENTIONS = [
    "申请要填密码吗",
    "密码错误3次",
    "验证码收不到",
    "修改密码需要验证码吗",
    "密码是6位吗",
    "请不要发送密码、验证码、CVN等敏感信息",
    "有人要我的验证码 500块就能解冻",
]
# What the bot needs stays readable.
IDENTIFIERS = (
    "商户号898310058121234 终端号60013452 单号JC202611180023 尾号5678 "
    "刷卡显示03，也有A0和PN-0093 金额1234.56元 2026-11-18提交"
)


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(ROOT / "domain.yml"))


@pytest.fixture
def tracker_store(tmp_path: Path, domain: Domain) -> Iterator[RedactingSQLTrackerStore]:
    store = RedactingSQLTrackerStore(domain=domain, host=f"sqlite:///{tmp_path / 'tracker.db'}")
    yield store
    store.engine.dispose()


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """A handler added after the redaction was installed, as Rasa and sanic do."""
    install()
    output = io.StringIO()
    handler = logging.StreamHandler(output)
    logger = logging.getLogger("rasa.core.processor")
    previous_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield output
    logger.removeHandler(handler)
    logger.setLevel(previous_level)


def conversation(domain: Domain, user_text: str, value: Any) -> DialogueStateTracker:
    """A tracker with ``user_text`` as a message and ``value`` as its entity and slot."""
    tracker = DialogueStateTracker(f"pii-{uuid.uuid4().hex}", domain.slots)
    tracker.update(ActionExecuted("action_listen"))
    entity = {"entity": "phone_number", "value": value, "start": 0, "end": len(user_text)}
    tracker.update(UserUttered(user_text, {"name": "inform", "confidence": 1.0}, entities=[entity]))
    tracker.update(SlotSet("phone_number", value))
    tracker.update(BotUttered("好的"))
    return tracker


def stored_events(store: RedactingSQLTrackerStore, sender_id: str) -> list[dict]:
    with store.engine.connect() as connection:
        rows = connection.execute(
            text("SELECT data FROM events WHERE sender_id = :sender ORDER BY id"),
            {"sender": sender_id},
        ).scalars()
        return [json.loads(row) for row in rows]


async def save_and_read(
    store: RedactingSQLTrackerStore, tracker: DialogueStateTracker
) -> list[dict]:
    await store.save(tracker)
    return stored_events(store, tracker.sender_id)


@pytest.mark.parametrize(("form", "value", "masked", "kind"), FORMS, ids=[f[0] for f in FORMS])
async def test_every_form_is_masked_everywhere(
    form: str,
    value: str,
    masked: str,
    kind: str,
    domain: Domain,
    tracker_store: RedactingSQLTrackerStore,
    log_output: io.StringIO,
) -> None:
    # (a) the masked text; the channel keeps phones (the bot needs them) and masks the rest.
    assert mask_pii(form) == masked
    assert digits_of(value) not in digits_of(mask_pii(form))
    if kind == SECRET or "卡号" in form:
        assert mask_sensitive(form) == masked

    # (b) the tracker store: as user text, entity value and slot value.
    tracker = conversation(domain, form, form)
    events = await save_and_read(tracker_store, tracker)
    strings = stored_strings(events)
    assert strings, "nothing was stored"
    assert not [s for s in strings if digits_of(value) in digits_of(s)]
    [user] = [e for e in events if e["event"] == "user"]
    assert user["text"] == user["parse_data"]["text"] == masked
    assert user["parse_data"]["entities"][0]["value"] == masked
    [slot] = [e for e in events if e["event"] == "slot"]
    assert slot["value"] == masked

    # (c) a log line through the redacting log record factory.
    logging.getLogger("rasa.core.processor").debug("Received user message '%s'", form)
    line = log_output.getvalue()
    assert masked in line
    assert digits_of(value) not in digits_of(line)

    # (d) the warning claims masking only for a masked secret.
    channel_text = mask_sensitive(form)
    message = Message(data={"text": channel_text, "intent": {"name": "inform", "confidence": 0.9}})
    SecretGuard().process([message])
    if kind == SECRET:
        assert message.get("intent")["name"] == SHARE_SECRET_INTENT
        assert secret_warning_response({"text": message.get("text")}) == UTTER_SECRET_MASKED
    else:
        assert message.get("intent")["name"] == "inform"
        assert secret_warning_response({"text": channel_text}) == UTTER_SECRET_WARNING


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        (13987650001, "139****0001"),
        (6222021234567890128, "6222***********0128"),
        (110101199003074578, "110***********4578"),
    ],
)
async def test_json_numbers_are_masked_in_entities_and_slots(
    number: int,
    masked: str,
    domain: Domain,
    tracker_store: RedactingSQLTrackerStore,
) -> None:
    user_text = f'/inform{{"phone_number": {number}}}'
    events = await save_and_read(tracker_store, conversation(domain, user_text, number))

    assert not [s for s in stored_strings(events) if str(number) in s]
    assert str(number) not in json.dumps(events)
    [user] = [e for e in events if e["event"] == "user"]
    assert user["text"] == f'/inform{{"phone_number": {masked}}}'
    assert user["parse_data"]["entities"][0]["value"] == masked
    [slot] = [e for e in events if e["event"] == "slot"]
    assert slot["value"] == masked


async def test_identifiers_the_bot_needs_stay_readable(
    domain: Domain, tracker_store: RedactingSQLTrackerStore, log_output: io.StringIO
) -> None:
    assert mask_pii(IDENTIFIERS) == IDENTIFIERS
    assert mask_sensitive(IDENTIFIERS) == IDENTIFIERS
    merchant = await save_and_read(
        tracker_store, conversation(domain, IDENTIFIERS, 898310058121234)
    )
    [user] = [e for e in merchant if e["event"] == "user"]
    assert user["text"] == IDENTIFIERS
    assert user["parse_data"]["entities"][0]["value"] == 898310058121234  # still a number
    logging.getLogger("rasa.core.processor").debug("Received user message '%s'", IDENTIFIERS)
    assert IDENTIFIERS in log_output.getvalue()


@pytest.mark.parametrize("mention", MENTIONS)
def test_a_message_that_only_mentions_a_secret_is_not_masked_nor_told_so(mention: str) -> None:
    assert mask_sensitive(mention) == mention
    assert mask_pii(mention) == mention
    # Even when the classifier takes it for a shared secret, the reply claims no masking.
    message = Message(
        data={"text": mention, "intent": {"name": SHARE_SECRET_INTENT, "confidence": 0.7}}
    )
    SecretGuard().process([message])
    assert message.get("text") == mention
    assert secret_warning_response({"text": message.get("text")}) == UTTER_SECRET_WARNING


def test_the_bots_own_replies_are_stored_as_written(domain: Domain) -> None:
    """Bot turns are redacted too: no reply text may look like personal data."""
    texts = [v["text"] for variants in domain.responses.values() for v in variants if "text" in v]
    assert texts
    assert [t for t in texts if mask_pii(t) != t] == []


def test_only_the_masked_reply_claims_masking_and_the_rule_chooses_between_them(
    domain: Domain,
) -> None:
    def reply(name: str) -> str:
        return " ".join(variant["text"] for variant in domain.responses[name])

    assert "屏蔽" in reply(UTTER_SECRET_MASKED)
    assert "屏蔽" not in reply(UTTER_SECRET_WARNING)
    rules = yaml.safe_load((ROOT / "data/rules/small_talk.yml").read_text(encoding="utf-8"))
    [steps] = [
        rule["steps"] for rule in rules["rules"] if {"intent": SHARE_SECRET_INTENT} in rule["steps"]
    ]
    assert steps == [{"intent": SHARE_SECRET_INTENT}, {"action": "action_secret_warning"}]


def test_python_warnings_go_through_the_redacting_log_handler() -> None:
    """Both servers install the redaction on import (``bot.channels``, ``actions``)."""
    script = (
        "import logging, sys, warnings\n"
        "logging.basicConfig(stream=sys.stdout, format='%(name)s %(message)s')\n"
        "import {package}\n"
        "warnings.warn('config says 密码是：123456, phone 1381234 5678')\n"
    )
    for package in ("bot.channels", "actions"):
        result = subprocess.run(
            [sys.executable, "-c", script.format(package=package)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        output = result.stdout + result.stderr
        assert "py.warnings" in result.stdout
        assert "密码是：******" in output and "138****5678" in output
        assert "123456" not in output and "1381234 5678" not in output
