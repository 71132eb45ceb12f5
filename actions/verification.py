"""The identity verification form (merchant id or case id, then the last four phone digits)."""

from __future__ import annotations

from actions.form_base import GuardedFormValidation, SlotValues, identity_slots, is_locked


class ValidateVerifyForm(GuardedFormValidation):
    """Validates ``verify_form``; three wrong answers end the attempt."""

    format_hints = {
        "merchant_id": "utter_invalid_merchant_id",
        "case_id": "utter_invalid_merchant_id",
        "phone_last4": "utter_invalid_phone_last4",
    }

    def name(self) -> str:
        return "validate_verify_form"

    def slots_required(self, slots: SlotValues) -> list[str]:
        if is_locked(slots):
            return []
        return identity_slots(slots)
