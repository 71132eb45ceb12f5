"""Concrete next steps for a rejected application, from the rejection reason's wording."""

from __future__ import annotations

import re
from typing import Final

_DOCUMENT_WORDS: Final = re.compile(
    r"材料|资料|证明|证件|照片|模糊|不全|不清|缺|过期|有效期|签字|盖章|补充"
)
_ACCOUNT_WORDS: Final = re.compile(r"欠款|欠费|未结清|未缴|纠纷|拒付|投诉|结算")
_VIOLATION_WORDS: Final = re.compile(r"违规|风控|套现|异常交易|交易异常|移机|风险")


def rejection_next_steps(rejection_reason: str) -> str:
    """The response with next steps: violation/risk first, then account, then documents."""
    if _VIOLATION_WORDS.search(rejection_reason):
        return "utter_rejection_next_violation"
    if _ACCOUNT_WORDS.search(rejection_reason):
        return "utter_rejection_next_account"
    if _DOCUMENT_WORDS.search(rejection_reason):
        return "utter_rejection_next_documents"
    return "utter_rejection_next_other"
