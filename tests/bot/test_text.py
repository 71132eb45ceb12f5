from bot.domain_values import mask_name, mask_phone, normalize_identifier
from bot.nlu.id_placeholders import placeholder_for
from bot.redaction import mask_pii
from bot.text import find_secrets, mask_secrets, normalize_text


def test_full_width_digits_and_spaced_ids_are_normalised():
    assert normalize_text("商户号８９８３１００５８１２１２３４").text == "商户号898310058121234"
    assert normalize_text("手机138-1234-5678").text == "手机13812345678"
    assert normalize_text("8983 1005 8121 234查进度").text == "898310058121234查进度"
    assert normalize_text("单号JC 2026-1118-0023").text == "单号JC202611180023"


def test_separate_numbers_and_dates_are_left_alone():
    assert normalize_text("60013452 5678").text == "60013452 5678"
    assert normalize_text("2026-11-18提交的").text == "2026-11-18提交的"


def test_offsets_map_back_to_the_original():
    original = "号码 138-1234-5678 谢谢"
    normalized = normalize_text(original)
    start = normalized.text.index("138")
    assert normalized.original_span(start, start + 11) == (3, 16)
    assert normalized.normalized_span(3, 16) == (start, start + 11)


def test_secrets_are_found_with_their_value_only():
    assert find_secrets("我的密码是123456") == [(5, 11)]
    assert mask_secrets("验证码：384756 帮我查下") == "验证码：****** 帮我查下"
    assert mask_secrets("登录密码abc12345") == "登录密码******"
    for harmless in ("密码错误3次", "密码是多少", "有人问我要验证码", "商户号898310058121234"):
        assert find_secrets(harmless) == []


def test_identifiers_are_cleaned_and_personal_data_masked():
    assert normalize_identifier(" jc２０２６１１１８００２３ ") == "JC202611180023"
    assert normalize_identifier(None) == ""
    assert mask_phone("13812345678") == "138****5678"
    assert mask_name("张记便利店") == "张***店"
    assert mask_name("王") == "王*"
    text = "手机13812345678 身份证11010519491231002X 卡6222021234567890123 商户898310058121234"
    assert mask_pii(text) == (
        "手机138****5678 身份证110***********002X 卡6222***********0123 商户898310058121234"
    )


def test_identifier_tokens_get_placeholders():
    assert placeholder_for("898310058121234") == "merchantidtoken"
    assert placeholder_for("JC202611180023") == "caseidtoken"
    assert placeholder_for("13812345678") == "mobiletoken"
    assert placeholder_for("60013452") == "terminalidtoken"
    assert placeholder_for("5678") == "fourdigittoken"
    assert placeholder_for("进度") is None


def test_traditional_case_chinese_digits_and_repeats_are_normalised():
    assert normalize_text("為什麼我的POS機被停用了！！！！").text == "为什么我的pos机被停用了!"
    assert normalize_text("手机尾号五六七八").text == "手机尾号5678"
    assert normalize_text("我打了一二三次电话").text == "我打了一二三次电话"  # too short for an id
    assert normalize_text("啊啊啊啊怎么办😡😡😡").text == "啊怎么办😡"
    assert normalize_text("哈哈").text == "哈哈"
