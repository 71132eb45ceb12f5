"""Issue 11, item 4: a case filed in the chat proves identity like any case id, however typed.

End to end over REST: a case is filed in one conversation, then each spelling of its id plus
the last four phone digits opens the status in a new conversation; no failure is recorded.
"""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from bot.store.models import Case, Merchant, Terminal, VerificationAttempt
from bot.text import normalize_text
from tests.e2e.conftest import running_bot  # noqa: F401  (the servers of the e2e suite)

pytestmark = [pytest.mark.e2e, pytest.mark.model]

MERCHANT, PHONE, TERMINAL = "898310058133333", "13955557777", "60099001"


def texts(replies: list[dict]) -> str:
    return "\n".join(reply.get("text", "") for reply in replies)


def _spellings(case_id: str) -> list[str]:
    digits = case_id[2:]
    full_width = case_id.translate({code: code + 0xFEE0 for code in range(0x21, 0x7F)})
    return [
        case_id,
        case_id.lower(),
        full_width,
        f"JC {digits[:4]} {digits[4:8]} {digits[8:]}",
        f"jc-{digits[:4]}-{digits[4:8]}-{digits[8:]}",
    ]


@pytest.mark.parametrize(
    "typed",
    ["jc202611180023", "ＪＣ２０２６１１１８００２３", "JC 2026 1118 0023", "Jc-2026-1118-0023"],
)
def test_the_normaliser_writes_every_spelling_as_the_stored_id(typed):
    assert normalize_text(f"单号{typed} 尾号7777").text == "单号JC202611180023 尾号7777"


def test_a_case_filed_in_the_chat_verifies_in_a_new_conversation(running_bot):  # noqa: F811
    bot, store = running_bot
    with store.session() as session:
        session.add(Merchant(merchant_id=MERCHANT, name="钱记面馆", registered_phone=PHONE))
        session.add(
            Terminal(
                terminal_id=TERMINAL,
                merchant_id=MERCHANT,
                pos_type="e_sign",
                suspension_reason="other",
                suspended_at=datetime(2026, 11, 1, 9, 0),
            )
        )
    filer = "e2e-case-id-filer"
    assert "15位商户号" in texts(bot.say(filer, "我要申请解除停用"))
    bot.say(filer, MERCHANT)
    assert "身份验证通过" in texts(bot.say(filer, PHONE[-4:]))
    bot.say(filer, TERMINAL)
    assert "确认提交" in texts(bot.say(filer, "13955550000"))
    filed = texts(bot.say(filer, "是的"))
    with store.session() as session:
        case_id = session.execute(
            select(Case.case_id).where(Case.terminal_id == TERMINAL, Case.source == "bot")
        ).scalar_one()
    assert f"申请单号 {case_id}" in filed

    status = f"申请单 {case_id}（终端 {TERMINAL}）：已提交"
    for number, typed in enumerate(_spellings(case_id)):
        # All in one message, as people ask.
        reply = texts(bot.say(f"e2e-case-id-{number}a", f"单号{typed} 尾号{PHONE[-4:]} 查下进度"))
        assert "身份验证通过" in reply and status in reply, (typed, reply)
        # Step by step: the id first, then the digits the bot asks for.
        sender = f"e2e-case-id-{number}b"
        assert "后四位" in texts(bot.say(sender, f"查下进度 单号{typed}")), typed
        reply = texts(bot.say(sender, PHONE[-4:]))
        assert "身份验证通过" in reply and status in reply, (typed, reply)

    with store.session() as session:
        checks = session.execute(
            select(VerificationAttempt.merchant_key, VerificationAttempt.succeeded).where(
                VerificationAttempt.sender_id.like("rest:e2e-case-id-%")
            )
        ).all()
    assert checks and all(ok for _, ok in checks), checks
    assert {key for key, _ in checks} == {MERCHANT}
