"""Custom Rasa input channels and the pages served by the bot.

Rasa imports this package (from ``credentials.yml``) before it serves anything, so this is
where the Rasa server process starts masking personal data in its logs.
"""

from bot.logging_redaction import install as _install_log_redaction

_install_log_redaction()
