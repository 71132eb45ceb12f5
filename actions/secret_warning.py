"""The warning after a password or code: it says the value was masked only when it was."""

from __future__ import annotations

from typing import Any, Final

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.base import DomainDict
from bot.redaction import find_secrets

SECRET_WARNING_ACTION: Final = "action_secret_warning"
# Tells the user the value was masked: only when the message holds a masked secret.
UTTER_SECRET_MASKED: Final = "utter_secret_masked"
# The same warning without that claim: the classifier took the message for a secret that no
# pattern found, so nothing was masked.
UTTER_SECRET_WARNING: Final = "utter_secret_warning"


def secret_warning_response(latest_message: dict[str, Any]) -> str:
    """The warning for the user's latest message (its parse data).

    The channel masks a secret before the NLU (``密码是******``) and the SecretGuard masks the
    parsed text otherwise; either way the text then holds a secret the patterns recognise, and
    the same patterns mask it in the tracker store and the logs.
    """
    text = str(latest_message.get("text") or "")
    return UTTER_SECRET_MASKED if find_secrets(text) else UTTER_SECRET_WARNING


class ActionSecretWarning(Action):
    """Warns a user who sent a password, PIN, CVN or verification code."""

    def name(self) -> str:
        return SECRET_WARNING_ACTION

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list:
        dispatcher.utter_message(response=secret_warning_response(tracker.latest_message))
        return []
