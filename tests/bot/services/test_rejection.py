"""The next step after a rejection follows what the rejection reason says."""

from __future__ import annotations

import pytest

from bot.services.rejection import rejection_next_steps


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        # A defective document: correct it and resubmit, even if it is about the account.
        ("结算账户变更证明照片模糊", "utter_rejection_next_documents"),
        ("还款证明缺失", "utter_rejection_next_documents"),
        ("营业执照已过期", "utter_rejection_next_documents"),
        ("交易情况说明材料不全，缺少相关交易的进货单据", "utter_rejection_next_documents"),
        ("结算账户与营业执照名称不一致", "utter_rejection_next_documents"),
        ("法人身份证复印件未签字", "utter_rejection_next_documents"),
        # The account problem itself is open: resolve it first.
        ("欠款未结清", "utter_rejection_next_account"),
        ("交易纠纷尚未处理完毕", "utter_rejection_next_account"),
        ("存在持卡人拒付", "utter_rejection_next_account"),
        # Violation or risk: never coached around.
        ("存在套现嫌疑", "utter_rejection_next_violation"),
        ("风控审核未通过，交易情况说明不全", "utter_rejection_next_violation"),
        ("其他原因", "utter_rejection_next_other"),
    ],
)
def test_next_step_for_reason(reason: str, expected: str) -> None:
    assert rejection_next_steps(reason) == expected
