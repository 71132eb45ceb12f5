from bot.channels.rest import clean_text
from bot.redaction import mask_sensitive


def test_clean_text_drops_invisible_and_control_characters():
    assert clean_text(" 审核\x00要\u200b多久\x1b ") == "审核要多久"
    assert clean_text("\ud83d好") == "好"
    assert clean_text("第一行\n第二行") == "第一行\n第二行"


def test_sensitive_values_are_masked_but_phones_kept():
    assert mask_sensitive("密码123456 手机13812345678 卡6222021234567890123") == (
        "密码****** 手机13812345678 卡6222***********0123"
    )
