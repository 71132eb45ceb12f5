"""Custom actions of the POS reactivation support bot (served by rasa-sdk).

rasa-sdk imports this package before it serves anything, so this is where the action server
process starts masking personal data in its logs.
"""

from bot.logging_redaction import install as _install_log_redaction

_install_log_redaction()
