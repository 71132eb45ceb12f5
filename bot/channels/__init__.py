"""Custom Rasa input channels and the pages served by the bot.

Rasa imports this package (from ``credentials.yml``) before it serves anything, so this is
where the Rasa server process starts masking personal data in its logs and stops honouring
intent payloads that were not offered as buttons (:mod:`bot.payload_guard`), and where answers
get their feedback buttons (:mod:`bot.feedback_offer`).
"""

import sys

from bot.logging_redaction import install as _install_log_redaction

_install_log_redaction()


def _install_rasa_patches() -> None:
    from bot.channels.hand_back import install as install_handoff_idle
    from bot.feedback_offer import install as install_feedback_offer
    from bot.payload_guard import install as install_payload_guard

    install_payload_guard()
    install_feedback_offer()
    # A paused conversation with no agent answer for POSBOT_HANDOFF_IDLE_MINUTES goes back to
    # the bot when the merchant's next message arrives (bot.channels.hand_back).
    install_handoff_idle()


# Only in a process that runs Rasa (the Rasa server has loaded it before credentials.yml names
# this package): the notification worker, which uses the channels' senders, stays free of Rasa
# and TensorFlow (5 CPU seconds of start-up, taken from the servers on the same cores).
if "rasa.core.processor" in sys.modules:
    _install_rasa_patches()
