"""Written Cantonese to Mandarin, word by word, so that the NLU reads one language.

Merchants in Guangdong and Hong Kong write "我部POS機點解用唔到": Mandarin training data never
shows 點解 (why), 唔 (not) or 咗 (perfective 了). This step rewrites the Cantonese function
words and the common phrases into their Mandarin equivalents before anything else reads the
text; the rest (Traditional script, full-width digits) is done by :mod:`bot.text`.

The rules are lexical and conservative: a word is only rewritten where it cannot be Mandarin
(唔, 咗, 嘅, 冇, 佢 are Cantonese only), or in a context that rules Mandarin out (點解 but not
點解決, 係 but not 關係, 仲 but not 仲裁). Each rule is written once in Traditional script; its
Simplified spelling is derived, except for the rules marked as Traditional only (系 is a common
Mandarin character, 係 is not).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

# (pattern, Mandarin, Traditional only). Longer phrases first: the first alternative that
# matches at a position wins. Lookarounds keep Mandarin words that contain the same characters.
_RULES: Final[tuple[tuple[str, str, bool], ...]] = (
    # Questions: why, how, when, how long, how much, where, who, what.
    (r"點解(?![決决釋释析說说答題题讀读除])", "为什么", False),
    (r"做乜嘢|做乜|做咩", "为什么", False),
    (r"點樣先", "怎么才", False),
    (r"點樣", "怎么", False),
    (r"點算", "怎么办", False),
    (r"點辦", "怎么办", False),
    (r"點搞", "怎么搞", False),
    (r"點先", "怎么才", False),
    (r"幾耐先", "多久才", False),
    (r"幾耐", "多久", False),
    (r"幾時先", "什么时候才", False),
    (r"幾時", "什么时候", False),
    (r"幾多錢", "多少钱", False),
    (r"幾多", "多少", False),
    (r"幾錢", "多少钱", False),
    (r"邊度|邊處", "哪里", False),
    (r"邊個", "谁", False),
    (r"邊間", "哪家", False),
    (r"乜嘢|乜野|咩嘢|咩野", "什么", False),
    (r"咩事", "什么事", False),
    (r"咩", "什么", False),
    # Yes/no questions and negation.
    (r"係唔係|系唔系", "是不是", True),
    (r"係咪|系咪", "是不是", True),
    (r"唔係", "不是", False),
    (r"有冇", "有没有", False),
    (r"冇問題", "没问题", False),
    (r"冇", "没有", False),
    (r"用唔到|用唔倒", "用不了", False),
    (r"碌唔到|碌唔倒", "刷不了", False),
    (r"刷唔到|刷唔倒", "刷不了", False),
    (r"唔該晒", "谢谢", False),
    (r"唔該(?=\S)", "麻烦", False),
    (r"唔該", "谢谢", False),
    (r"唔好", "不要", False),
    (r"唔知", "不知道", False),
    (r"唔使", "不用", False),
    (r"唔得", "不行", False),
    (r"得唔得", "行不行", False),
    (r"使唔使", "需不需要", False),
    (r"唔(?=[\u4e00-\u9fffA-Za-z0-9])", "不", False),
    (r"仲未", "还没", False),
    (r"仲(?![裁介夏春秋冬])", "还", False),
    # Copula, pronouns, particles.
    (r"(?<![關关聯联干幹維维])係(?![數数列])", "是", True),
    (r"佢哋", "他们", False),
    (r"我哋", "我们", False),
    (r"你哋", "你们", False),
    (r"哋", "们", False),
    (r"佢", "他", False),
    (r"嘅", "的", False),
    (r"咗", "了", False),
    (r"㗎", "的", False),
    (r"嘞", "了", False),
    (r"喎", "啊", False),
    (r"噉樣|咁樣", "这样", False),
    (r"噉", "这样", False),
    (r"咁耐", "这么久", False),
    (r"好耐", "好久", False),
    (r"(?<=[護护修審审處处辦办批查])緊", "中", False),
    (r"咁", "这么", False),
    # Demonstratives and measure words of a machine (我部機 = 我的机器).
    (r"我部(?=(?i:pos)|機|机|電|电|刷|智能|大)", "我的", False),
    (r"呢部", "这台", False),
    (r"呢個", "这个", False),
    (r"呢度", "这里", False),
    (r"呢啲", "这些", False),
    (r"嗰部", "那台", False),
    (r"嗰個", "那个", False),
    (r"嗰度", "那里", False),
    (r"嗰", "那", False),
    (r"(?<=[一兩两你佢])部(?=(?i:pos)|機|机)", "台", False),
    (r"快啲", "快点", False),
    (r"好啲", "好点", False),
    (r"一啲", "一些", False),
    (r"啲", "些", False),
    # Verbs.
    (r"搞掂", "搞定", False),
    (r"整返好", "修好", False),
    (r"用返", "恢复使用", False),
    (r"畀|俾", "给", False),
    (r"攞", "拿", False),
    (r"睇", "看", False),
    (r"嚟", "来", False),
    (r"喺", "在", False),
    (r"搵|揾", "找", False),
    (r"啱啱", "刚刚", False),
    (r"啱", "对", False),
    (r"嘢", "东西", False),
    (r"碌卡", "刷卡", False),
    (r"拍卡", "闪付", False),
    # Time.
    (r"而家|宜家", "现在", False),
    (r"尋日|琴日", "昨天", False),
    (r"聽日", "明天", False),
    (r"今日", "今天", False),
)


@lru_cache(maxsize=1)
def _compiled() -> tuple[re.Pattern[str], tuple[str, ...]]:
    """One alternation of every rule (named groups), and the replacement of each group."""
    from bot.text import traditional_to_simplified_map

    simplified = traditional_to_simplified_map()
    branches, replacements = [], []
    for index, (pattern, mandarin, traditional_only) in enumerate(_RULES):
        variant = "".join(simplified.get(char, char) for char in pattern)
        if not traditional_only and variant != pattern:
            pattern = f"{pattern}|{variant}"
        branches.append(f"(?P<r{index}>{pattern})")
        replacements.append(mandarin)
    return re.compile("|".join(branches)), tuple(replacements)


def cantonese_to_mandarin(text: str) -> tuple[str, tuple[int, ...]]:
    """Rewrites written Cantonese words as Mandarin.

    Args:
        text: a message, in Traditional or Simplified script.

    Returns:
        The rewritten text and, for each of its characters, the index of the character of
        ``text`` it comes from (the characters of a replacement point, in order, at those of the
        words they replace; a longer replacement repeats the last one).
    """
    pattern, replacements = _compiled()
    out: list[str] = []
    origin: list[int] = []
    position = 0
    for match in pattern.finditer(text):
        out.extend(text[position : match.start()])
        origin.extend(range(position, match.start()))
        group = match.lastgroup or ""
        mandarin = replacements[int(group[1:])]
        out.extend(mandarin)
        last = max(match.start(), match.end() - 1)
        origin.extend(min(match.start() + k, last) for k in range(len(mandarin)))
        position = match.end()
    out.extend(text[position:])
    origin.extend(range(position, len(text)))
    return "".join(out), tuple(origin)
