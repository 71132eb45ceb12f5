"""The one-question satisfaction rating (1-5) after an agent hands a conversation back.

:func:`rating_request` is the bot message the agent desk adds on release: the question, one
button per score (``/rate_service{"score": 5}``, honoured by :mod:`bot.payload_guard` because
they were just offered) and the agent in its metadata, which ``action_rate_service`` reads.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Final

from rasa.shared.core.events import BotUttered

from bot.channels.delivery import deliver
from bot.channels.pages import domain_text
from bot.services.feedback import MAX_SCORE, MIN_SCORE, RATING_INTENT, RATING_KEY, SCORE_ENTITY

UTTER_RATING_ASK: Final = "utter_rating_ask"
UTTER_RATING_BUTTON: Final = "utter_rating_button_{}"


def rating_buttons(agent: Any) -> list[dict[str, str]]:
    """One button per score, 5 (best) first."""
    return [
        {
            "title": domain_text(agent, UTTER_RATING_BUTTON.format(score)) or str(score),
            "payload": f"/{RATING_INTENT}{json.dumps({SCORE_ENTITY: score})}",
        }
        for score in range(MAX_SCORE, MIN_SCORE - 1, -1)
    ]


def rating_request(agent: Any, agent_id: str, tracker: Any) -> list[BotUttered]:
    """The rating question for the conversation ``agent_id`` hands back: none when the
    conversation was not with a human (not paused), so there is nothing to rate."""
    if not tracker.is_paused():
        return []
    return [
        BotUttered(
            domain_text(agent, UTTER_RATING_ASK),
            data={"buttons": rating_buttons(agent)},
            metadata={"utter_action": UTTER_RATING_ASK, RATING_KEY: {"agent_id": agent_id}},
        )
    ]


async def deliver_rating(channel: str | None, sender_id: str, rating: Sequence[BotUttered]) -> None:
    """Sends the rating question, with its buttons, where the agent's messages go."""
    for event in rating:
        await deliver(channel, sender_id, event.text or "", "bot", event.data.get("buttons"))
