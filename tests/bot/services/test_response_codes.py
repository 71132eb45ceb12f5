"""The response code table: loading, validation errors an operator can act on, look-ups."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from bot.services.response_codes import (
    CODE_TABLE_ENV,
    CodeKind,
    CodeTableError,
    TableSource,
    default_table,
    load_table,
    normalize_code,
    table_path,
)
from tests.conftest import ROOT

SHIPPED = ROOT / "config" / "response_codes.yml"

SMALL = """\
codes:
  "03": {meaning: 无效商户, kind: restricted}
  "A0": {meaning: MAC校验错, kind: keys}
  "PN-0093": {meaning: 厂商自定义, kind: network}
phrases:
  密码错误: {meaning: 密码错误, kind: card_side}
  密码错误次数超限: {meaning: 密码错误次数超限, kind: card_side}
  无效商户: {meaning: 无效商户, kind: restricted}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "codes.yml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def shipped():
    return load_table(SHIPPED)


# -- the shipped table ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("03", CodeKind.RESTRICTED),
        ("58", CodeKind.RESTRICTED),
        ("97", CodeKind.RESTRICTED),
        ("40", CodeKind.RESTRICTED),
        ("51", CodeKind.CARD_SIDE),
        ("55", CodeKind.CARD_SIDE),
        ("75", CodeKind.CARD_SIDE),
        ("68", CodeKind.NETWORK),
        ("96", CodeKind.NETWORK),
        ("A0", CodeKind.KEYS),
        ("99", CodeKind.KEYS),
        ("12", CodeKind.KEYS),
        ("94", CodeKind.DUPLICATE_FORMAT),
        ("25", CodeKind.DUPLICATE_FORMAT),
    ],
)
def test_shipped_table_has_the_domain_codes_with_their_kind(shipped, code, kind):
    entry = shipped.lookup_code(code)
    assert entry is not None and entry.kind is kind and entry.code == code


@pytest.mark.parametrize(
    ("text", "kind", "meaning"),
    [
        ("刷卡显示无效商户", CodeKind.RESTRICTED, "无效商户"),
        ("终端已停用了", CodeKind.RESTRICTED, "终端已停用"),
        ("提示终端未登记", CodeKind.RESTRICTED, "终端未登记"),
        ("屏幕显示商户状态异常", CodeKind.RESTRICTED, "商户状态异常"),
        ("交易受限", CodeKind.RESTRICTED, "交易受限"),
        ("顾客的卡余额不足", CodeKind.CARD_SIDE, "余额不足"),
        ("提示密码错误", CodeKind.CARD_SIDE, "密码错误"),
        ("刷卡顯示無效商戶", CodeKind.RESTRICTED, "无效商户"),
        ("显示MAC校验错", CodeKind.KEYS, "MAC校验错"),
    ],
)
def test_shipped_table_knows_screen_texts_without_a_code(shipped, text, kind, meaning):
    entry = shipped.find_phrase(text)
    assert entry is not None
    assert (entry.code, entry.kind, entry.meaning) == (None, kind, meaning)


def test_shipped_file_is_the_default(monkeypatch):
    monkeypatch.delenv(CODE_TABLE_ENV, raising=False)
    assert table_path() == Path("config/response_codes.yml")
    monkeypatch.setenv(CODE_TABLE_ENV, "/etc/posbot/codes.yml")
    assert table_path() == Path("/etc/posbot/codes.yml")


# -- normalisation and look-up --------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("a0", "A0"),
        ("Ａ０", "A0"),
        ("０３", "03"),
        (" 58 ", "58"),
        ("pn-0093", "PN-0093"),
        ("pn 0093", "PN-0093"),
        ("PN0093", "PN-0093"),
        ("PN－0093", "PN-0093"),
    ],
)
def test_codes_are_normalised(raw, code):
    assert normalize_code(raw) == code


@pytest.mark.parametrize(
    "raw", [None, "", "3", "123", "60013452", "898310058121234", "4G", "abc", "密码", True, 3]
)
def test_other_values_are_not_codes(raw):
    assert normalize_code(raw) is None


def test_lookup_accepts_the_code_as_typed(tmp_path):
    table = load_table(write(tmp_path, SMALL))
    assert table.lookup_code("a0").meaning == "MAC校验错"
    assert table.lookup_code("pn0093").code == "PN-0093"
    assert table.lookup_code("58") is None
    assert table.lookup_code("60013452") is None


def test_the_longest_screen_text_wins(tmp_path):
    table = load_table(write(tmp_path, SMALL))
    assert table.find_phrase("刷卡提示密码错误次数超限").meaning == "密码错误次数超限"
    assert table.find_phrase("刷卡提示密码错误").meaning == "密码错误"
    assert table.find_phrase("刷不了卡") is None


def test_explain_prefers_a_known_code_then_a_screen_text_then_reports_an_unknown_code(tmp_path):
    table = load_table(write(tmp_path, SMALL))
    known = table.explain(["77", "a0"], "显示77 a0")
    assert known.entry.code == "A0" and known.unknown_code is None
    phrase = table.explain(["77"], "显示77无效商户")
    assert phrase.entry.meaning == "无效商户" and phrase.entry.code is None
    unknown = table.explain(["ｘ７", "77"], "显示X7")
    assert unknown.entry is None and unknown.unknown_code == "X7"
    nothing = table.explain([], "屏幕上有个提示")
    assert nothing.entry is None and nothing.unknown_code is None


# -- operator errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("codes: [\n", "line 2: not valid YAML"),
        ("- 03\n", "expected a mapping with 'codes' and 'phrases'"),
        (SMALL + "extra: {}\n", "unknown section(s) ['extra']"),
        ('codes:\n  "03": {meaning: x, kind: restricted}\n', "'phrases' must be a non-empty"),
        (
            SMALL.replace('"03"', "03"),
            'codes[3]: write the code in quotes ("03"), YAML read it as a number',
        ),
        (SMALL.replace('"A0"', '"a0"'), "codes['a0']: not a response code in canonical form"),
        (SMALL.replace('"A0"', '"ABC"'), "codes['ABC']: not a response code"),
        (
            SMALL.replace("kind: keys", "kind: key"),
            "codes['A0']: 'kind' is 'key', expected one of ['restricted', 'card_side', "
            "'network', 'keys', 'duplicate_format']",
        ),
        (SMALL.replace("meaning: MAC校验错, ", ""), "codes['A0']: 'meaning' must be a non-empty"),
        (SMALL.replace("meaning: MAC校验错", "meaning: ''"), "codes['A0']: 'meaning' must be"),
        (SMALL.replace("kind: keys}", "kind: keys, note: x}"), "codes['A0']: unknown field(s)"),
        (SMALL.replace('"A0": {meaning: MAC校验错, kind: keys}', '"A0": keys'), "codes['A0']: "),
        (
            SMALL.replace("phrases:", '  "03": {meaning: y, kind: keys}\nphrases:'),
            "'03' is listed twice",
        ),
        (
            SMALL.replace("  无效商户:", "  無效商戶:") + "  无效商户: {meaning: x, kind: keys}\n",
            "phrases['无效商户']: the same text as another phrase",
        ),
        (SMALL + "  无: {meaning: x, kind: keys}\n", "phrases['无']: a screen text of at least"),
    ],
)
def test_a_bad_file_is_refused_with_the_file_and_the_place(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(CodeTableError) as raised:
        load_table(path)
    assert str(raised.value).startswith(f"{path}: ")
    assert message in str(raised.value)


def test_a_missing_file_is_refused_with_its_path(tmp_path):
    with pytest.raises(CodeTableError, match=r"missing\.yml: cannot read the code table"):
        load_table(tmp_path / "missing.yml")


def test_a_duplicate_key_names_both_lines(tmp_path):
    path = write(tmp_path, SMALL.replace("phrases:", '  "A0": {meaning: y, kind: keys}\nphrases:'))
    with pytest.raises(CodeTableError, match=r"line 5: 'A0' is listed twice \(first on line 3\)"):
        load_table(path)


# -- reloading ------------------------------------------------------------------------------


def test_a_changed_file_is_read_again_and_a_broken_change_keeps_the_last_table(tmp_path, caplog):
    path = write(tmp_path, SMALL)
    source = TableSource(path)
    assert source.get().lookup_code("58") is None
    added = '  "58": {meaning: 不允许终端进行的交易, kind: restricted}\nphrases:'
    path.write_text(SMALL.replace("phrases:", added), encoding="utf-8")
    os.utime(path, ns=(1, 10**18))
    assert source.get().lookup_code("58").kind is CodeKind.RESTRICTED
    path.write_text(SMALL.replace("kind: keys", "kind: key"), encoding="utf-8")
    os.utime(path, ns=(1, 2 * 10**18))
    with caplog.at_level(logging.ERROR):
        table = source.get()
    assert table.lookup_code("58") is not None
    assert "'kind' is 'key'" in caplog.text


def test_a_file_never_valid_raises_on_every_look_up(tmp_path):
    source = TableSource(write(tmp_path, "codes: 1\n"))
    for _ in range(2):
        with pytest.raises(CodeTableError, match="'codes' must be a non-empty mapping"):
            source.get()


def test_default_table_reads_the_file_named_in_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(CODE_TABLE_ENV, str(write(tmp_path, SMALL)))
    assert default_table().lookup_code("PN-0093").kind is CodeKind.NETWORK
