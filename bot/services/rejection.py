"""Concrete next steps for a rejected application, from the rejection reason's wording."""

from __future__ import annotations

import re
from typing import Final

_VIOLATION_WORDS: Final = re.compile(r"违规|风控|套现|异常交易|交易异常|移机|风险")
# A document with a defect ("结算账户变更证明照片模糊", "还款证明缺失", "营业执照已过期"):
# the merchant corrects the document and resubmits, whatever the document is about.
_DOCUMENT_NOUNS: Final = re.compile(
    r"材料|资料|证明|证件|照片|图片|复印件|扫描件|执照|身份证|说明|凭证|单据|申请表|签字|盖章"
)
_DOCUMENT_DEFECTS: Final = re.compile(
    r"模糊|不清|不全|缺|遗漏|过期|到期|失效|有效期|不一致|不符|有误|错误|未盖章|未签字|"
    r"补充|补交|重新上传|不完整|不合格|无法识别"
)
_ACCOUNT_WORDS: Final = re.compile(r"欠款|欠费|未结清|未缴|纠纷|拒付|投诉")
_DOCUMENT_WORDS: Final = re.compile(
    r"材料|资料|证明|证件|照片|模糊|不全|不清|缺|过期|有效期|签字|盖章|补充"
)


def rejection_next_steps(rejection_reason: str) -> str:
    """The response with next steps for a rejection reason.

    Violation or risk first (never coached around); then a defective document (correct it and
    resubmit, even when the document proves an account change or a payment); then an open
    account problem (arrears, disputes: resolve first); then any other document wording.
    """
    if _VIOLATION_WORDS.search(rejection_reason):
        return "utter_rejection_next_violation"
    if _DOCUMENT_NOUNS.search(rejection_reason) and _DOCUMENT_DEFECTS.search(rejection_reason):
        return "utter_rejection_next_documents"
    if _ACCOUNT_WORDS.search(rejection_reason):
        return "utter_rejection_next_account"
    if _DOCUMENT_WORDS.search(rejection_reason):
        return "utter_rejection_next_documents"
    return "utter_rejection_next_other"
