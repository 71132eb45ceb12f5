"""The redaction module: what is found, how it is masked, what the bot needs stays readable."""

from __future__ import annotations

import random

import pytest

from bot import redaction
from bot.redaction import (
    BANK_CARD,
    ID_CARD,
    LONG_NUMBER,
    PHONE,
    SECRET,
    find_pii,
    find_secrets,
    id_card_check_digit,
    id_card_valid,
    iter_strings,
    luhn_check_digit,
    luhn_valid,
    mask_pii,
    mask_sensitive,
    old_id_card_valid,
    redact_event,
    redact_value,
)

# Published examples with correct check digits.
KNOWN_IDS = ("11010519491231002X", "440305198506123419", "320102197811235677")
KNOWN_CARDS = ("4111111111111111", "5500005555555559", "6222021234567890128")


def kinds(text: str) -> list[str]:
    return [finding.kind for finding in find_pii(text)]


def random_id(rng: random.Random) -> str:
    body = f"{rng.choice(['11', '31', '44', '51'])}{rng.randint(1000, 9999)}"
    body += f"{rng.randint(1950, 2010)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    body += f"{rng.randint(0, 999):03d}"
    return body + id_card_check_digit(body)


def random_card(rng: random.Random, length: int) -> str:
    body = "62" + "".join(str(rng.randint(0, 9)) for _ in range(length - 3))
    return body + luhn_check_digit(body)


def test_checksums_accept_known_valid_numbers_and_reject_a_changed_digit():
    for number in KNOWN_IDS:
        assert id_card_valid(number)
        assert not id_card_valid(number[:-2] + str((int(number[-2]) + 1) % 10) + number[-1])
    for number in KNOWN_CARDS:
        assert luhn_valid(number)
        assert not luhn_valid(number[:-1] + str((int(number[-1]) + 1) % 10))
    assert not id_card_valid("991231199001010011")  # no such province
    assert old_id_card_valid("110101900307123") and not old_id_card_valid("898310058121234")


def test_generated_ids_and_cards_are_found_and_masked():
    rng = random.Random(4)
    for _ in range(50):
        number = random_id(rng)
        assert kinds(f"身份证{number}") == [ID_CARD]
        assert mask_pii(f"身份证{number}") == f"身份证{number[:3]}{'*' * 11}{number[-4:]}"
        for length in (16, 17, 18, 19):
            card = random_card(rng, length)
            if length == 18 and id_card_valid(card):
                continue
            assert kinds(f"卡号{card}") == [BANK_CARD]
            assert mask_pii(f"卡号{card}").endswith(card[-4:])
            assert card[4:-4] not in mask_pii(f"卡号{card}")


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("手机13812345678", "手机138****5678"),
        ("手机 138 1234 5678 谢谢", "手机 138****5678 谢谢"),
        ("电话138-1234-5678", "电话138****5678"),
        ("+86 13812345678", "+86 138****5678"),
        ("+8613812345678", "+86138****5678"),
        ("手机１３８１２３４５６７８", "手机138****5678"),
        ("手机一三八一二三四五六七八", "手机138****5678"),
        ("身份证11010519491231002X", "身份证110***********002X"),
        ("身份证 110105 19491231 002x", "身份证 110***********002X"),
        ("身份证号110101900307123", "身份证号110********7123"),
        ("卡6222021234567890128", "卡6222***********0128"),
        ("卡号 6222 0212 3456 7890 128 谢谢", "卡号 6222***********0128 谢谢"),
        ("卡号6222-0212-3456-7890-128", "卡号6222***********0128"),
        ("我的密码是123456", "我的密码是******"),
        ("密码：abc123 别告诉别人", "密码：****** 别告诉别人"),
        ("支付密码 654321", "支付密码 ******"),
        ("验证码384756", "验证码******"),
        ("短信验证码是 123 456", "短信验证码是 ******"),
        ("卡背面cvv 123", "卡背面cvv ******"),
        ("CVV2:456", "CVV2:******"),
        ("安全码是789", "安全码是******"),
        ("密码是一二三四五六", "密码是******"),
    ],
)
def test_personal_data_is_masked(text, masked):
    assert mask_pii(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "商户号898310058121234",
        "商户号 898310058121234 终端号 60013452",
        "8983 1005 8121 234",
        "单号JC202611180023",
        "单号 JC 202611180023",
        "手机尾号5678",
        "终端60013452 5678",
        "两台终端 60013452 60013453",
        "身份证和商户号898310058121234",
        "2026-11-18提交的，3到7个工作日",
        "置信度0.9876543210123456",
        "密码错误3次",
        "密码是多少",
        "有人问我要验证码",
        "审核要多久",
    ],
)
def test_what_the_bot_needs_passes_untouched(text):
    assert find_pii(text) == []
    assert mask_pii(text) == text


def test_a_long_number_failing_luhn_is_no_card_but_still_masked():
    number = "6222021234567890127"
    assert not luhn_valid(number)
    assert kinds(f"卡号{number}") == [LONG_NUMBER]
    assert mask_pii(f"卡号{number}") == "卡号6222***********0127"
    # Grouped digits failing Luhn are separate numbers: nothing is joined or masked.
    assert mask_pii("6222 0212 3456 7890 127") == "6222 0212 3456 7890 127"


def test_channels_keep_phones_but_mask_the_rest():
    text = "手机13812345678 密码123456 卡6222021234567890128 身份证11010519491231002X"
    assert mask_sensitive(text) == (
        "手机13812345678 密码****** 卡6222***********0128 身份证110***********002X"
    )
    assert [kind for kind in kinds(text)] == [PHONE, SECRET, BANK_CARD, ID_CARD]


def test_secret_spans_are_the_value_only_and_a_masked_secret_is_still_one():
    assert find_secrets("我的密码是123456") == [(5, 11)]
    assert find_secrets("验证码是******") == [(4, 10)]
    assert find_secrets("密码是12") == []  # too short to be a secret
    assert find_secrets("手机13812345678") == []


def test_redact_event_masks_every_free_text_and_keeps_structure():
    event = {
        "event": "user",
        "timestamp": 1764122400.123,
        "message_id": "4f2a1c",
        "text": "我手机13812345678 身份证11010519491231002X 密码是654321",
        "parse_data": {
            "intent": {"name": "inform", "confidence": 0.9},
            "entities": [
                {"entity": "phone_number", "value": "13812345678", "start": 3, "end": 14},
                {"entity": "merchant_id", "value": "898310058121234"},
            ],
            "text": "我手机13812345678",
        },
        "metadata": {"contact": ["13912345678"], "card": "6222021234567890128"},
    }
    redacted = redact_event(event)
    strings = " ".join(iter_strings(redacted))
    for secret in ("13812345678", "11010519491231002X", "654321", "13912345678", "0212345678"):
        assert secret not in strings
    assert redacted["message_id"] == event["message_id"]
    assert redacted["timestamp"] == event["timestamp"]
    assert redacted["parse_data"]["entities"][1]["value"] == "898310058121234"
    assert redacted["parse_data"]["entities"][0]["value"] == "138****5678"
    assert redact_event({"event": "slot", "name": "phone_number", "value": "13912345678"}) == {
        "event": "slot",
        "name": "phone_number",
        "value": "139****5678",
    }
    assert event["text"].startswith("我手机13812345678")  # the input is not changed


# --- the cheap paths of saving events (issue 15) ---------------------------------------------


def test_a_confidence_stays_a_number_as_the_full_check_would_leave_it() -> None:
    rng = random.Random(15)
    confidences = [rng.random() for _ in range(3000)] + [rng.random() * 1e-6 for _ in range(300)]
    for value in [0.0, 1.0, 5e-324, 0.9999999999999999, *confidences]:
        assert redact_value(value) is value
        text = str(value)
        assert redaction._apply(text, find_pii(text)) == text  # what the fast path skips


def test_numbers_outside_confidences_are_still_masked() -> None:
    assert redact_value(13987650001) == "139****0001"
    assert redact_value(13987650001.0) != 13987650001.0
    assert redact_value({"confidence": 0.87, "value": 13987650001}) == {
        "confidence": 0.87,
        "value": "139****0001",
    }


def test_texts_found_clean_are_remembered_and_texts_with_pii_never() -> None:
    redaction._PII_FREE.clear()
    clean = "我的POS机为什么被停用了"
    with_phone = "我的手机号是13987650001"
    assert mask_pii(clean) == clean
    assert clean in redaction._PII_FREE
    for _ in range(2):
        assert mask_pii(with_phone) == "我的手机号是139****0001"
    assert with_phone not in redaction._PII_FREE
    assert redact_event({"event": "user", "text": with_phone}) == {
        "event": "user",
        "text": "我的手机号是139****0001",
    }
    assert list(redaction._PII_FREE) == [clean]


def test_the_clean_text_cache_is_bounded_and_skips_long_texts() -> None:
    redaction._PII_FREE.clear()
    for number in range(redaction.PII_FREE_KEPT + 10):
        mask_pii(f"问题{number}")
    assert 0 < len(redaction._PII_FREE) <= redaction.PII_FREE_KEPT
    long_text = "停" * (redaction.PII_FREE_MAX_LENGTH + 1)
    assert mask_pii(long_text) == long_text
    assert long_text not in redaction._PII_FREE


def test_a_text_checked_while_the_secret_detector_runs_is_not_remembered_clean() -> None:
    redaction._PII_FREE.clear()
    text = "我的密码是 837261"
    redaction._state.busy = True  # a log line written from inside the detector's run
    try:
        skipped = mask_pii(text)
    finally:
        redaction._state.busy = False
    assert skipped == text  # the check it always was in that case: numbers only
    assert text not in redaction._PII_FREE
    assert mask_pii(text) == "我的密码是 ******"


@pytest.mark.parametrize(
    "text",
    [
        "手机号１３９８７６５０００１",  # full-width digits
        "卡号 6222 0212 3456 7890 128",  # spaced groups
        "电话一三九八七六五零零零一",  # Chinese digits
        "PIN: 4821",
        "验证码是 ５５２９１３",
    ],
)
def test_personal_data_in_odd_forms_is_masked_every_time(text: str) -> None:
    expected = redaction._apply(text, find_pii(text))
    assert expected != text
    assert [mask_pii(text) for _ in range(3)] == [expected] * 3
    assert text not in redaction._PII_FREE


def test_the_clean_text_cache_gives_the_full_checks_answer_under_threads(monkeypatch) -> None:
    from concurrent.futures import ThreadPoolExecutor

    monkeypatch.setattr(redaction, "PII_FREE_KEPT", 50)  # cleared again and again meanwhile
    redaction._PII_FREE.clear()
    texts = [f"问题{n % 80}" for n in range(400)] + [f"手机1398765{n:04d}" for n in range(100)]
    random.Random(15).shuffle(texts)
    expected = {text: redaction._apply(text, find_pii(text)) for text in set(texts)}
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(mask_pii, texts * 4))
    assert results == [expected[text] for text in texts * 4]
    assert all(not find_pii(text) for text in list(redaction._PII_FREE))
