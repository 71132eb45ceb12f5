"""Giving a paused conversation back to the bot: an agent hands it back, or it sat idle.

Both paths go through :func:`hand_back_to_bot`, the one place that writes the hand-back (a
closing question after a human conversation belongs there too). The idle path needs no
background thread: :func:`install` patches Rasa's
``MessageProcessor.fetch_tracker_and_update_session`` (the tracker ``handle_message`` reads
anyway, so the check costs no extra read) so that when a message arrives for a paused
conversation whose handoff tickets had no agent answer for
``POSBOT_HANDOFF_IDLE_MINUTES``, the tickets are closed and the conversation is resumed before
the message is handled; the merchant gets the notice, then the bot's answer to the message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Final

from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import (
    ActionExecuted,
    BotUttered,
    ConversationPaused,
    ConversationResumed,
    UserUtteranceReverted,
    UserUttered,
)

from bot.channels.pages import domain_text
from bot.clock import Clock, china_now
from bot.services.base import StoreUnavailable
from bot.services.handoff_hours import HandoffHoursService
from bot.settings import HANDOFF_IDLE_MINUTES, SettingError

logger = logging.getLogger(__name__)

#: What the merchant is told when an agent hands back, and when nobody answered in time.
AGENT_HANDED_BACK: Final = "utter_back_to_bot"
IDLE_RESUMED: Final = "utter_handoff_idle_resumed"
_APPLIED_MARK: Final = "_posbot_handoff_idle"


def turns_while_paused(tracker: Any) -> int:
    """User messages logged since the conversation was last paused."""
    count = 0
    for event in reversed(tracker.events):
        if isinstance(event, ConversationPaused):
            return count
        if isinstance(event, UserUttered):
            count += 1
    return 0


def hand_back_to_bot(tracker: Any, agent: Any, notice: str) -> list[str]:
    """Gives the paused ``tracker`` back to the bot and returns the texts for the merchant.

    Messages the merchant sent while a human was in charge stay in the history but are taken
    out of what the bot predicts from, and the bot resumes listening (a paused conversation
    never reached action_listen): the next turn starts clean. ``notice`` names the domain
    response that tells the merchant (``AGENT_HANDED_BACK`` or ``IDLE_RESUMED``). The caller
    holds the conversation's lock, saves the tracker and delivers the texts.
    """
    texts = [domain_text(agent, notice)]
    reverts = [UserUtteranceReverted() for _ in range(turns_while_paused(tracker))]
    events = [*reverts, ConversationResumed(), ActionExecuted(ACTION_LISTEN_NAME)]
    events += [BotUttered(text) for text in texts]
    for event in events:
        tracker.update(event)
    return texts


async def resume_if_idle(
    processor: Any,
    sender_id: str,
    output_channel: Any,
    *,
    service: HandoffHoursService | None = None,
    clock: Clock = china_now,
    tracker: Any = None,
) -> bool:
    """Hands an idle paused conversation back to the bot; whether it did.

    Called with the conversation's lock held (inside ``handle_message``), with the tracker
    Rasa has just read (else it is read here). Only a paused conversation touches the case
    store; a store or setting failure leaves it paused.
    """
    if tracker is None:
        tracker = await processor.tracker_store.retrieve(sender_id)
    if tracker is None or not tracker.is_paused():
        return False
    try:
        idle_minutes = HANDOFF_IDLE_MINUTES.read()
        closed = await (service or HandoffHoursService()).close_if_idle(
            sender_id=sender_id, now=clock(), idle_minutes=idle_minutes
        )
    except (StoreUnavailable, SettingError) as error:
        logger.error("handoff idle check skipped: %s", error)
        return False
    if not closed:
        return False
    texts = hand_back_to_bot(tracker, processor, IDLE_RESUMED)
    await processor.tracker_store.save(tracker)
    logger.info("handoff tickets %s closed: no agent answer, back to the bot", ", ".join(closed))
    for text in texts:
        await output_channel.send_text_message(sender_id, text)
    return True


def install() -> None:
    """Patches ``MessageProcessor.fetch_tracker_and_update_session`` with the idle check
    (idempotent); only a message's own read (with an output channel) is checked."""
    from rasa.core.processor import MessageProcessor

    original: Callable[..., Any] = MessageProcessor.fetch_tracker_and_update_session
    if getattr(original, _APPLIED_MARK, False):
        return

    async def fetch_tracker_and_update_session(
        self: MessageProcessor,
        sender_id: str,
        output_channel: Any = None,
        metadata: Any = None,
    ) -> Any:
        tracker = await original(self, sender_id, output_channel, metadata)
        if sender_id and output_channel is not None and tracker.is_paused():
            await resume_if_idle(self, sender_id, output_channel, tracker=tracker)
        return tracker

    setattr(fetch_tracker_and_update_session, _APPLIED_MARK, True)
    MessageProcessor.fetch_tracker_and_update_session = fetch_tracker_and_update_session
