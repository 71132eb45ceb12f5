"""Names shared by the actions: slots, intents, responses."""

from __future__ import annotations

from typing import Final

REQUESTED_SLOT: Final = "requested_slot"

MERCHANT_ID: Final = "merchant_id"
TERMINAL_ID: Final = "terminal_id"
CASE_ID: Final = "case_id"
PHONE_NUMBER: Final = "phone_number"
PHONE_LAST4: Final = "phone_last4"
SUSPENSION_REASON: Final = "suspension_reason"
VERIFIED: Final = "verified"
VERIFIED_MERCHANT_ID: Final = "verified_merchant_id"
VERIFY_FAILURES: Final = "verify_failures"
CONFIRM_PENDING: Final = "confirm_pending"
OPEN_CASE_ID: Final = "open_case_id"
CASE_CHANGE_PENDING: Final = "case_change_pending"
CASE_CHANGE_STEP: Final = "case_change_step"
CASE_CHANGE_CASE_ID: Final = "case_change_case_id"

NLU_FALLBACK: Final = "nlu_fallback"
# Small talk: says nothing about the topic of the conversation.
SOCIAL_INTENTS: Final = frozenset({"greet", "goodbye", "thank", "affirm", "deny", "bot_challenge"})
# Messages that leave the POS topic (or never were on it).
OFF_TOPIC_INTENTS: Final = frozenset(
    {NLU_FALLBACK, "out_of_scope", "other_language", "insult", "share_secret"}
)
CHECK_CASE_STATUS: Final = "check_case_status"
URGE_PROGRESS: Final = "urge_progress"
REPORT_REJECTED: Final = "report_rejected"
ASK_SUSPEND_REASON: Final = "ask_suspend_reason"
REPORT_ERROR_CODE: Final = "report_error_code"
# Intents whose answer depends on the merchant's own case, newest one wins after verification.
CASE_INTENTS: Final = (CHECK_CASE_STATUS, URGE_PROGRESS, REPORT_REJECTED, ASK_SUSPEND_REASON)
CANCEL_APPLICATION: Final = "cancel_application"
# After verification, the newest of these is what the merchant wanted done.
FOLLOWUP_INTENTS: Final = (*CASE_INTENTS, CANCEL_APPLICATION)
# Intents that leave a form; rules decide what follows.
FORM_EXIT_INTENTS: Final = frozenset({"deny", "goodbye", "request_human"})

# Questions answered by a fixed response, at any time, including in the middle of a form.
FAQ_RESPONSES: Final = {
    "ask_unsuspend_process": "utter_unsuspend_process",
    "ask_required_documents": "utter_required_documents",
    "ask_review_time": "utter_review_time",
    "report_hardware_fault": "utter_hardware_fault",
    "report_network_problem": "utter_network_problem",
    "ask_maintenance": "utter_maintenance",
    "ask_prevention": "utter_prevention",
    "ask_after_reactivation": "utter_after_reactivation",
    "report_fraud": "utter_fraud_warning",
    "ask_pos_types": "utter_pos_types",
    "ask_contact": "utter_contact",
    "ask_suspend_reason": "utter_suspend_reason_general",
    "report_rejected": "utter_rejected_general",
    "ask_fees": "utter_fees",
}
# Small talk answered inside a form before the question is asked again.
FORM_SMALL_TALK_RESPONSES: Final = {
    "greet": "utter_affirm_ack",
    "thank": "utter_thank",
    "bot_challenge": "utter_iamabot",
    "out_of_scope": "utter_out_of_scope",
    "share_secret": "utter_secret_warning",
    "other_language": "utter_other_language",
    "insult": "utter_insult_reply",
}

UTTER_STORE_UNAVAILABLE: Final = "utter_store_unavailable"
