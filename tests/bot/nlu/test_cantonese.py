"""Written Cantonese reaches the NLU as Mandarin; Mandarin text is left alone."""

from __future__ import annotations

import pytest

from bot.cantonese import cantonese_to_mandarin
from bot.text import normalize_text


@pytest.mark.parametrize(
    ("cantonese", "mandarin"),
    [
        ("我部POS機點解用唔到", "我的pos机为什么用不了"),
        ("部機係咪被停咗", "部机是不是被停了"),
        ("點樣先可以解封", "怎么才可以解封"),
        ("申請咗要幾耐先批", "申请了要多久才批"),
        ("幾時可以用返", "什么时候可以恢复使用"),
        ("要準備乜嘢資料", "要准备什么资料"),
        ("佢哋冇通知我", "他们没有通知我"),
        ("唔該幫我睇下", "麻烦帮我看下"),
        ("搞掂未呀", "搞定未呀"),
        ("畀個電話我", "给个电话我"),
        ("碌唔到卡", "刷不了卡"),
        ("点解我部机用唔到", "为什么我的机用不了"),
        ("系咪欠费", "是不是欠费"),
        ("呢部機嘅錢幾時到", "这台机的钱什么时候到"),
    ],
)
def test_cantonese_words_become_mandarin(cantonese, mandarin):
    assert normalize_text(cantonese).text == mandarin


@pytest.mark.parametrize(
    "mandarin",
    [
        "这点解决不了",
        "重点解释一下",
        "没关系",
        "聯係客服",
        "系统在维护",
        "系数是多少",
        "申请仲裁",
        "唔，好的",
        "内部机构",
        "我的pos机为什么被停用",
    ],
)
def test_mandarin_is_left_alone(mandarin):
    assert cantonese_to_mandarin(mandarin)[0] == mandarin


def test_the_origin_of_each_character_points_into_the_original_text():
    text, origin = cantonese_to_mandarin("冇咗商户号")
    assert text == "没有了商户号"
    assert origin == (0, 0, 1, 2, 3, 4)


def test_identifier_spans_survive_a_longer_replacement():
    original = "冇冇冇商户号898310058121234"
    normalized = normalize_text(original)
    start = normalized.text.index("898")
    assert normalized.original_span(start, start + 15) == (6, 21)
    assert normalized.normalized_span(6, 21) == (start, start + 15)
