"""The warning after a secret says it was masked only when it was (real servers, trained model).

Issue 11, item 3: the bot used to answer every ``share_secret`` guess with "已做屏蔽处理", also
when nothing had been masked ("验证码收不到" is a question, not a code).
"""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.model]

MASKING_CLAIM = "屏蔽"
WARNING = "请不要发送密码"
SECRETS = [
    "密码是：123456",
    "验证码 是 8 8 8 8 8 8",
    "验证码发你了 482913",
    "PIN是 1 2 3 4",
    "pwd=x",
]
# The classifier takes some of these for a shared secret; none of them holds a value.
MENTIONS = ["验证码收不到", "修改密码需要验证码吗", "申请要填密码吗", "密码忘了怎么办"]


def texts(replies: list[dict]) -> str:
    return "\n".join(reply.get("text", "") for reply in replies)


@pytest.mark.parametrize("number", range(len(SECRETS)))
def test_a_masked_secret_is_told_it_was_masked(running_bot, number: int) -> None:
    bot, _store = running_bot
    reply = texts(bot.say(f"e2e-secret-{number}", SECRETS[number]))
    assert WARNING in reply and MASKING_CLAIM in reply


def test_a_message_without_a_secret_is_never_told_it_was_masked(running_bot) -> None:
    bot, _store = running_bot
    replies = {text: texts(bot.say(f"e2e-mention-{i}", text)) for i, text in enumerate(MENTIONS)}
    assert [text for text, reply in replies.items() if MASKING_CLAIM in reply] == []
    # At least one of them is answered with the warning: the claim-free variant is in use.
    assert any(WARNING in reply for reply in replies.values())
