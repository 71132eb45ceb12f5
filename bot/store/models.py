"""SQLAlchemy models of the case store.

Datetimes are stored naive and mean China time (Asia/Shanghai), the zone the acquirer's back
office and the merchants live in.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import DeclarativeMeta, registry, relationship

from bot.domain_values import OPEN_CASE_STATUSES

_registry = registry()


class Base(metaclass=DeclarativeMeta):
    """Declarative base of every table (a class, not ``declarative_base()``, so type checkers
    see the models as classes; SQLAlchemy 1.4's documented form)."""

    __abstract__ = True
    registry = _registry
    metadata = _registry.metadata
    __init__ = _registry.constructor


# The rows of the partial index "one open case per terminal" (same SQL on SQLite and PostgreSQL).
OPEN_CASE_WHERE = text(
    "status IN (" + ", ".join(f"'{status}'" for status in OPEN_CASE_STATUSES) + ")"
)


class Merchant(Base):
    """A merchant (商户) identified by its 15-digit merchant number."""

    __tablename__ = "merchants"

    merchant_id = Column(String(15), primary_key=True)
    name = Column(String(200), nullable=False, default="")
    registered_phone = Column(String(11), nullable=False)

    terminals = relationship("Terminal", back_populates="merchant", order_by="Terminal.terminal_id")
    cases = relationship("Case", back_populates="merchant")


class Terminal(Base):
    """A POS terminal (终端) and, when suspended, why and since when."""

    __tablename__ = "terminals"

    terminal_id = Column(String(8), primary_key=True)
    merchant_id = Column(ForeignKey("merchants.merchant_id"), nullable=False, index=True)
    pos_type = Column(String(16), nullable=True)
    suspension_reason = Column(String(32), nullable=True)
    suspended_at = Column(DateTime, nullable=True)

    merchant = relationship("Merchant", back_populates="terminals")
    cases = relationship("Case", back_populates="terminal")


class Case(Base):
    """An application to lift a suspension (解除停用申请)."""

    __tablename__ = "cases"

    case_id = Column(String(14), primary_key=True)
    merchant_id = Column(ForeignKey("merchants.merchant_id"), nullable=False, index=True)
    terminal_id = Column(ForeignKey("terminals.terminal_id"), nullable=False, index=True)
    status = Column(String(20), nullable=False, index=True)
    suspension_reason = Column(String(32), nullable=True)
    submitted_at = Column(DateTime, nullable=True)
    updated_at = Column(DateTime, nullable=True)
    rejection_reason = Column(Text, nullable=False, default="")
    missing_documents = Column(Text, nullable=False, default="")
    contact_phone = Column(String(11), nullable=True)
    source = Column(String(16), nullable=False, default="import")

    merchant = relationship("Merchant", back_populates="cases")
    terminal = relationship("Terminal", back_populates="cases")
    events = relationship("CaseEvent", back_populates="case", order_by="CaseEvent.id")

    __table_args__ = (
        Index("ix_cases_terminal_status", "terminal_id", "status"),
        # At most one open case per terminal, whoever files it (bot, import, two people at once).
        Index(
            "uq_cases_open_terminal",
            "terminal_id",
            unique=True,
            sqlite_where=OPEN_CASE_WHERE,
            postgresql_where=OPEN_CASE_WHERE,
        ),
    )

    @property
    def missing_document_list(self) -> list[str]:
        """The missing documents as a list (stored `;`-separated)."""
        return [item.strip() for item in (self.missing_documents or "").split(";") if item.strip()]


class CaseEvent(Base):
    """One entry of a case's history: imported, status change, submitted, escalated."""

    __tablename__ = "case_events"

    id = Column(Integer, primary_key=True, autoincrement=True)
    case_id = Column(ForeignKey("cases.case_id"), nullable=False, index=True)
    occurred_at = Column(DateTime, nullable=False)
    kind = Column(String(32), nullable=False)
    detail = Column(Text, nullable=False, default="")

    case = relationship("Case", back_populates="events")


class Ticket(Base):
    """A ticket for people: an escalation of an overdue case or a handoff to an agent."""

    __tablename__ = "tickets"

    ticket_id = Column(String(14), primary_key=True)
    kind = Column(String(16), nullable=False, index=True)
    case_id = Column(ForeignKey("cases.case_id"), nullable=True, index=True)
    merchant_id = Column(ForeignKey("merchants.merchant_id"), nullable=True, index=True)
    sender_id = Column(String(255), nullable=False, index=True)
    summary = Column(Text, nullable=False, default="")
    status = Column(String(16), nullable=False, default="open", index=True)
    created_at = Column(DateTime, nullable=False)


class CaseAccessAudit(Base):
    """Who looked at which merchant's case data, when (agents skip merchant verification)."""

    __tablename__ = "case_access_audit"

    id = Column(Integer, primary_key=True, autoincrement=True)
    agent_id = Column(String(64), nullable=False, index=True)
    call_id = Column(String(64), nullable=False, index=True)
    merchant_id = Column(String(15), nullable=True, index=True)
    case_id = Column(String(14), nullable=True, index=True)
    accessed_at = Column(DateTime, nullable=False, index=True)


class NluMiss(Base):
    """A message the bot did not understand (personal data masked), for the content team."""

    __tablename__ = "nlu_misses"

    id = Column(Integer, primary_key=True, autoincrement=True)
    sender_id = Column(String(255), nullable=False, index=True)
    text = Column(Text, nullable=False)
    guess = Column(String(64), nullable=True)
    confidence = Column(Float, nullable=True)
    recorded_at = Column(DateTime, nullable=False, index=True)


class VerificationAttempt(Base):
    """One identity check (claimed merchant, conversation, outcome) for brute-force limits."""

    __tablename__ = "verification_attempts"

    id = Column(Integer, primary_key=True, autoincrement=True)
    merchant_key = Column(String(15), nullable=False)
    sender_id = Column(String(255), nullable=False, index=True)
    succeeded = Column(Boolean, nullable=False)
    # verified, mismatch, merchant_locked (compared and wrong while locked) or refused
    # (not compared); see bot.services.identity.
    outcome = Column(String(16), nullable=False, server_default="mismatch")
    attempted_at = Column(DateTime, nullable=False)

    __table_args__ = (Index("ix_verification_attempts_key_time", "merchant_key", "attempted_at"),)


class ApplicationDraft(Base):
    """The full contact phone of an application being filled in, until it is filed.

    The conversation store only keeps the masked phone; the submission reads it from here.
    On submission the phone is blanked and the filed ``case_id`` kept, so that a repeated
    confirmation (the reply was lost) gets the same case. Deleted on cancellation and by the
    retention command.
    """

    __tablename__ = "application_drafts"

    sender_id = Column(String(255), primary_key=True)
    contact_phone = Column(String(11), nullable=False)
    updated_at = Column(DateTime, nullable=False, index=True)
    case_id = Column(String(14), nullable=True)


class CaseIdCounter(Base):
    """The last sequence number handed out for one id prefix and day (``JC20261130``)."""

    __tablename__ = "case_id_counters"

    day_prefix = Column(String(10), primary_key=True)
    last_value = Column(Integer, nullable=False)


class VerificationLock(Base):
    """A row lock by key (:class:`~bot.store.repositories.VerificationLockRepository`), held
    until the transaction ends: per client and per claimed merchant while an identity check
    runs, per conversation while an upload is counted, per ticket while it is closed.

    A write to the row (a row lock on PostgreSQL, the database write lock on SQLite) makes
    parallel checks count one after another.
    """

    __tablename__ = "verification_locks"

    lock_key = Column(String(270), primary_key=True)
    touched_at = Column(DateTime, nullable=False, index=True)


# --- notifications (issue 13) ---


class Notification(Base):
    """One message telling a merchant that a case changed status (the outbox of ``posbot
    notify``).

    ``idempotency_key`` (case event + channel) is unique: an event is planned once per channel,
    and a re-sent message carries the same key so that the receiver can drop the repeat.
    ``recipient`` is masked for people; ``recipient_key`` is the SHA-256 of the address (the
    widget's inbox and the opt-outs look it up); the address itself is found again when sending.
    ``message`` is the masked text sent. ``status``: pending, sent, failed or skipped.
    """

    __tablename__ = "notifications"

    id = Column(Integer, primary_key=True, autoincrement=True)
    idempotency_key = Column(String(80), nullable=False, unique=True)
    case_event_id = Column(ForeignKey("case_events.id"), nullable=True, index=True)
    case_id = Column(ForeignKey("cases.case_id"), nullable=False, index=True)
    merchant_id = Column(String(15), nullable=False, index=True)
    channel = Column(String(16), nullable=False, index=True)
    recipient = Column(String(64), nullable=False, default="")
    recipient_key = Column(String(64), nullable=False, default="", index=True)
    status = Column(String(16), nullable=False, index=True)
    attempts = Column(Integer, nullable=False, default=0)
    next_attempt_at = Column(DateTime, nullable=False, index=True)
    last_error = Column(String(200), nullable=False, default="")
    created_at = Column(DateTime, nullable=False, index=True)
    sent_at = Column(DateTime, nullable=True)
    seen_at = Column(DateTime, nullable=True)
    message = Column(Text, nullable=False, default="")


class NotificationOptOut(Base):
    """Who asked for no more notifications: ``merchant:<id>`` (a verified merchant) or
    ``recipient:<sha256>`` (a conversation that was not verified)."""

    __tablename__ = "notification_opt_outs"

    subject = Column(String(80), primary_key=True)
    created_at = Column(DateTime, nullable=False)


# --- documents (issue 13) ---


class Document(Base):
    """A photo or PDF a verified merchant sent for a case; the file is kept under its sha256.

    ``missing_item`` is the missing document it was taken for; ``NULL`` until the merchant
    said which one (several were missing), ``""`` when the case listed none.
    """

    __tablename__ = "documents"

    id = Column(Integer, primary_key=True, autoincrement=True)
    case_id = Column(ForeignKey("cases.case_id"), nullable=False, index=True)
    sha256 = Column(String(64), nullable=False, index=True)
    mime = Column(String(32), nullable=False)
    size = Column(Integer, nullable=False)
    missing_item = Column(String(200), nullable=True)
    uploaded_at = Column(DateTime, nullable=False, index=True)
    # sha256 of the conversation's sender id: who sent it, without the sender id itself.
    uploader = Column(String(64), nullable=False, index=True)


# --- handoff hours (issue 13) ---


class HandoffTiming(Base):
    """When an agent first answered a handoff ticket, last answered it, and when it closed.

    The expected wait told to the next merchants comes from these (bot.store.handoff_hours);
    a ticket with no agent answer for ``POSBOT_HANDOFF_IDLE_MINUTES`` goes back to the bot.
    """

    __tablename__ = "handoff_timings"

    ticket_id = Column(ForeignKey("tickets.ticket_id"), primary_key=True)
    picked_up_at = Column(DateTime, nullable=True)
    last_agent_reply_at = Column(DateTime, nullable=True)
    closed_at = Column(DateTime, nullable=True, index=True)
    # The agent who handed the conversation back, or "idle" (no agent answer in time).
    closed_by = Column(String(64), nullable=True)


class AfterHoursRequest(Base):
    """A message left or a call-back booked outside the agents' hours (one per ticket).

    ``message`` is masked (bot.redaction); ``phone`` is the number to call (the verified
    merchant's registered phone or one the merchant typed), shown only to agents.
    """

    __tablename__ = "after_hours_requests"

    id = Column(Integer, primary_key=True, autoincrement=True)
    ticket_id = Column(ForeignKey("tickets.ticket_id"), nullable=False, unique=True)
    kind = Column(String(16), nullable=False)
    sender_id = Column(String(255), nullable=False, index=True)
    merchant_id = Column(String(15), nullable=True)
    callback_at = Column(DateTime, nullable=True, index=True)
    phone = Column(String(11), nullable=True)
    message = Column(Text, nullable=False, default="")
    created_at = Column(DateTime, nullable=False)


# --- answer feedback (issue 13) ---


class AnswerFeedback(Base):
    """A merchant's verdict on one answer (bot.services.feedback): helpful or not_helpful.

    ``masked_text`` is the message that got the answer, personal data masked; ``sender_hash``
    the conversation as a hash, never the sender id itself.
    """

    __tablename__ = "answer_feedback"

    id = Column(Integer, primary_key=True, autoincrement=True)
    intent = Column(String(64), nullable=False, index=True)
    response = Column(String(128), nullable=False, index=True)
    verdict = Column(String(16), nullable=False)
    masked_text = Column(Text, nullable=False)
    sender_hash = Column(String(64), nullable=False, index=True)
    created_at = Column(DateTime, nullable=False, index=True)


class SatisfactionRating(Base):
    """A merchant's 1-5 rating of a human conversation, given after the agent handed back."""

    __tablename__ = "satisfaction_ratings"

    id = Column(Integer, primary_key=True, autoincrement=True)
    sender_hash = Column(String(64), nullable=False, index=True)
    agent_id = Column(String(64), nullable=False, index=True)
    score = Column(Integer, nullable=False)
    created_at = Column(DateTime, nullable=False, index=True)


# --- content store (issue 14) ---


class ContentOverride(Base):
    """An operator's live text for a reply (``kind`` "response") or an operator fact
    (``kind`` "fact"); without a row the text of domain.yml / the configuration applies."""

    __tablename__ = "content_overrides"

    kind = Column(String(16), primary_key=True)
    name = Column(String(120), primary_key=True)
    text = Column(Text, nullable=False)
    updated_by = Column(String(64), nullable=False)
    updated_at = Column(DateTime, nullable=False)


class ContentEdit(Base):
    """The audit of every content change: who, when, the text before and after.

    ``new_text`` / ``old_text`` are ``None`` where the default (domain.yml, configuration)
    applied. The highest id is the content's version: serving processes compare it to theirs.
    """

    __tablename__ = "content_edits"

    id = Column(Integer, primary_key=True, autoincrement=True)
    kind = Column(String(16), nullable=False)
    name = Column(String(120), nullable=False)
    action = Column(String(16), nullable=False)
    old_text = Column(Text, nullable=True)
    new_text = Column(Text, nullable=True)
    operator_id = Column(String(64), nullable=False)
    edited_at = Column(DateTime, nullable=False)
    reverts_edit_id = Column(Integer, nullable=True)

    __table_args__ = (Index("ix_content_edits_item", "kind", "name", "id"),)


# --- operators' console (issue 14) ---
# The console's day ranges (bot/store/console.py): handoffs by day, applications the bot filed.
Index("ix_tickets_kind_created", Ticket.kind, Ticket.created_at)
Index("ix_cases_source_submitted", Case.source, Case.submitted_at)
