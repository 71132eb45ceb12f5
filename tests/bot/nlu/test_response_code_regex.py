"""The response_code pattern of data/nlu/error_codes.yml on normalised text."""

from __future__ import annotations

import re

import pytest
import yaml

from bot.text import normalize_text
from tests.conftest import ROOT


def pattern() -> re.Pattern[str]:
    items = yaml.safe_load((ROOT / "data" / "nlu" / "error_codes.yml").read_text("utf-8"))["nlu"]
    (regex,) = [item for item in items if item.get("regex") == "response_code"]
    # RegexEntityExtractor is configured case-insensitive (config.yml).
    return re.compile(regex["examples"].strip()[2:], re.IGNORECASE)


def codes(text: str) -> list[str]:
    return [m.group() for m in pattern().finditer(normalize_text(text).text)]


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("刷卡显示03", ["03"]),
        ("错误码 A0", ["a0"]),
        ("提示97终端未登记", ["97"]),
        ("pos机显示58是什么意思", ["58"]),
        ("交易失败 返回码51", ["51"]),
        ("显示０３", ["03"]),
        ("错误码Ａ０", ["a0"]),
        ("报错PN-0093", ["pn-0093"]),
        ("終端顯示５８", ["58"]),
    ],
)
def test_codes_on_the_screen_are_found(text, found):
    assert codes(text) == found


@pytest.mark.parametrize(
    "text",
    [
        "商户号898310058121234",
        "终端号60013452",
        "手机13812345678",
        "尾号5678",
        "申请单JC202611180023",
        "都10天了",
        "交了50块押金",
        "等了30分钟",
        "今天12点以后",
        "2025年3月",
        "4G信号不好",
        "wifi6路由器",
        "PAX A920",
        "卡号6222***********0128",
        "手机138****5678",
        "费率0.38",
        "14:30开始的",
        "打了8折",
    ],
)
def test_ids_amounts_dates_and_models_are_not_codes(text):
    assert codes(text) == []
