"""The FAQ topics: which domain responses answer each self-service question.

The FAQ page renders these responses from the running bot's domain, so the page and the bot
always say the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from bot.domain_values import SUSPENSION_REASONS


@dataclass(frozen=True)
class FaqTopic:
    """One section of the FAQ page."""

    anchor: str
    intent: str
    responses: tuple[str, ...]


FAQ_TOPICS: Final = (
    FaqTopic("reasons", "ask_suspend_reason", ("utter_suspend_reason_general",)),
    FaqTopic("process", "ask_unsuspend_process", ("utter_unsuspend_process",)),
    FaqTopic(
        "documents",
        "ask_required_documents",
        ("utter_required_documents", *(f"utter_documents_{r}" for r in SUSPENSION_REASONS)),
    ),
    FaqTopic("review-time", "ask_review_time", ("utter_review_time",)),
    FaqTopic("rejected", "report_rejected", ("utter_rejected_general",)),
    FaqTopic("hardware", "report_hardware_fault", ("utter_hardware_fault",)),
    FaqTopic("network", "report_network_problem", ("utter_network_problem",)),
    FaqTopic("maintenance", "ask_maintenance", ("utter_maintenance",)),
    FaqTopic("prevention", "ask_prevention", ("utter_prevention",)),
    FaqTopic("after-reactivation", "ask_after_reactivation", ("utter_after_reactivation",)),
    FaqTopic("pos-types", "ask_pos_types", ("utter_pos_types",)),
    FaqTopic("fees", "ask_fees", ("utter_fees",)),
    FaqTopic("scams", "report_fraud", ("utter_fraud_warning", "utter_secret_warning")),
    FaqTopic("contact", "ask_contact", ("utter_contact",)),
)

TOPIC_BY_INTENT: Final = {topic.intent: topic for topic in FAQ_TOPICS}
