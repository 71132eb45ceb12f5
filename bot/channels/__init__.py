"""Custom Rasa input channels and the pages served by the bot.

Rasa imports this package (from ``credentials.yml``) before it serves anything, so this is
where the Rasa server process starts masking personal data in its logs and stops honouring
intent payloads that were not offered as buttons (:mod:`bot.payload_guard`), and where answers
get their feedback buttons (:mod:`bot.feedback_offer`).
"""

from bot.channels.hand_back import install as _install_handoff_idle
from bot.feedback_offer import install as _install_feedback_offer
from bot.logging_redaction import install as _install_log_redaction
from bot.payload_guard import install as _install_payload_guard

_install_log_redaction()
_install_payload_guard()
_install_feedback_offer()
# A paused conversation with no agent answer for POSBOT_HANDOFF_IDLE_MINUTES goes back to the
# bot when the merchant's next message arrives (bot.channels.hand_back).
_install_handoff_idle()
