"""Errors shared by the layers: raised in the store, handled in the channels."""

from __future__ import annotations


class TrackerStoreUnavailable(BaseException):
    """The conversation store failed; the turn must stop without an answer from memory.

    A ``BaseException`` on purpose: Rasa's ``FailSafeTrackerStore`` swallows ``Exception``
    and falls back to an empty in-memory tracker. Raised by
    ``bot.store.tracker_store.RedactingSQLTrackerStore``; the channels turn it into a polite
    reply or a 503.
    """
