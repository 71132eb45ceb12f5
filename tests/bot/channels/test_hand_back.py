"""A paused conversation goes back to the bot when no agent answered in time (checked when the
merchant's next message arrives), with the notice; a fresh or answered one stays paused."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    BotUttered,
    ConversationPaused,
    ConversationResumed,
    UserUtteranceReverted,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import select

from bot.channels.hand_back import IDLE_RESUMED, resume_if_idle
from bot.services.handoff_hours import HandoffHoursService, note_agent_reply, open_queued_handoff
from bot.settings import HANDOFF_IDLE_MINUTES
from bot.store.models import HandoffTiming, Ticket
from tests.conftest import ROOT

OPENED = datetime(2026, 11, 30, 10, 0)
SENDER = "rest:merchant-1"


@dataclass
class Processor:
    """What the idle check uses of Rasa's MessageProcessor: its tracker store and domain."""

    tracker_store: Any
    domain: Domain = field(default_factory=lambda: Domain.load(str(ROOT / "domain.yml")))


@pytest.fixture
async def paused(store):
    domain = Domain.load(str(ROOT / "domain.yml"))
    tracker_store = InMemoryTrackerStore(domain)
    tracker = DialogueStateTracker(SENDER, domain.slots)
    for event in [
        UserUttered("转人工", {"name": "request_human"}),
        ConversationPaused(),
        UserUttered("有人吗", {"name": "greet"}),
    ]:
        tracker.update(event)
    await tracker_store.save(tracker)
    with store.session() as session:
        open_queued_handoff(
            session, sender_id=SENDER, summary="", now=OPENED, merchant_id=None, default_minutes=5
        )
    return Processor(tracker_store, domain)


async def check(processor, store, minutes_later: float) -> tuple[bool, list[dict]]:
    channel = CollectingOutputChannel()
    resumed = await resume_if_idle(
        processor,
        SENDER,
        channel,
        service=HandoffHoursService(store),
        clock=lambda: OPENED + timedelta(minutes=minutes_later),
    )
    return resumed, channel.messages


async def test_no_agent_answer_for_the_idle_time_resumes_the_bot(paused, store, monkeypatch):
    monkeypatch.setenv(HANDOFF_IDLE_MINUTES.env, "30")
    resumed, sent = await check(paused, store, 30)
    notice = paused.domain.responses[IDLE_RESUMED][0]["text"].split("{")[0]
    assert resumed
    assert [m["text"][: len(notice)] for m in sent] == [notice]
    tracker = await paused.tracker_store.retrieve(SENDER)
    assert not tracker.is_paused()
    tail = list(tracker.events)[-4:]
    assert [type(e) for e in tail] == [
        UserUtteranceReverted,
        ConversationResumed,
        ActionExecuted,
        BotUttered,
    ]
    with store.session() as session:
        ticket = session.execute(select(Ticket)).scalar_one()
        timing = session.get(HandoffTiming, ticket.ticket_id)
        assert (ticket.status, timing.closed_by) == ("closed", "idle")
        assert "no agent answer for 30 min" in ticket.summary


async def test_a_fresh_handoff_stays_paused(paused, store, monkeypatch):
    monkeypatch.setenv(HANDOFF_IDLE_MINUTES.env, "30")
    assert await check(paused, store, 29) == (False, [])
    assert (await paused.tracker_store.retrieve(SENDER)).is_paused()


async def test_an_agent_answer_restarts_the_idle_time(paused, store, monkeypatch):
    monkeypatch.setenv(HANDOFF_IDLE_MINUTES.env, "30")
    with store.session() as session:
        note_agent_reply(session, sender_id=SENDER, now=OPENED + timedelta(minutes=20))
    assert await check(paused, store, 45) == (False, [])
    assert (await check(paused, store, 50))[0]


async def test_idle_zero_never_resumes(paused, store, monkeypatch):
    monkeypatch.setenv(HANDOFF_IDLE_MINUTES.env, "0")
    assert await check(paused, store, 10_000) == (False, [])


async def test_a_conversation_that_is_not_paused_never_reaches_the_store(paused, monkeypatch):
    from bot.store.database import CaseStore

    monkeypatch.setenv(HANDOFF_IDLE_MINUTES.env, "1")
    tracker_store = InMemoryTrackerStore(paused.domain)
    await tracker_store.save(DialogueStateTracker("rest:other", paused.domain.slots))
    dead = CaseStore("postgresql://nobody@127.0.0.1:1/none?connect_timeout=1")
    channel = CollectingOutputChannel()
    assert not await resume_if_idle(
        Processor(tracker_store, paused.domain),
        "rest:other",
        channel,
        service=HandoffHoursService(dead),
    )


async def test_a_broken_store_leaves_the_conversation_paused(paused, monkeypatch):
    from bot.store.database import CaseStore

    monkeypatch.setenv(HANDOFF_IDLE_MINUTES.env, "1")
    dead = CaseStore("postgresql://nobody@127.0.0.1:1/none?connect_timeout=1")
    channel = CollectingOutputChannel()
    assert not await resume_if_idle(
        paused,
        SENDER,
        channel,
        service=HandoffHoursService(dead),
        clock=lambda: OPENED + timedelta(days=1),
    )
    assert (await paused.tracker_store.retrieve(SENDER)).is_paused()
