"""Status notifications: who is told about a case's new status, on which channel, with what.

A status change is a ``status_changed`` case event (the CSV import, ``posbot case
set-status``). The worker (``posbot notify``, :mod:`bot.channels.notifications`) plans each new
event once: one row in the ``notifications`` outbox, on the channel of the merchant's last
verified conversation (WeChat, the web widget's inbox), else SMS to the registered phone when a
gateway is configured, else ``skipped``. A merchant (or conversation) that opted out gets a
``skipped`` row. Rows are claimed with a conditional UPDATE (and ``SKIP LOCKED`` on
PostgreSQL), sent, then marked; a failure is retried with exponential backoff and recorded as
``failed`` after the last attempt. The text is a domain.yml response with the case id and the
new status only (fewer facts than a verified conversation shows), masked before it is stored.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

import yaml
from sqlalchemy.orm import Session

from bot.domain_values import mask_phone
from bot.operator_facts import fill_operator_facts
from bot.redaction import mask_pii
from bot.services.base import StoreService
from bot.services.content import ContentCache
from bot.store.notifications import (
    FAILED,
    PENDING,
    SENT,
    SKIPPED,
    Claimed,
    NotificationRepository,
    OptOutRepository,
    RecipientRepository,
    StatusEvent,
)

__all__ = [
    "FAILED",
    "PENDING",
    "SENT",
    "SKIPPED",
    "Claimed",
    "NotificationPolicy",
    "NotificationService",
    "NotificationTexts",
]

WECHAT: Final = "wechat"
WEB: Final = "web"
SMS: Final = "sms"
NO_CHANNEL: Final = "none"
CHANNELS: Final = (WECHAT, WEB, SMS, NO_CHANNEL)
WECHAT_PREFIX: Final = "wechat:"
WIDGET_PREFIX: Final = "rest:web-"
MERCHANT_SUBJECT: Final = "merchant:"
RECIPIENT_SUBJECT: Final = "recipient:"
TEXT_PREFIX: Final = "utter_notify_status_"
DEFAULT_DOMAIN: Final = Path("domain.yml")
INBOX_LIMIT: Final = 20
PLAN_BATCH: Final = 500
PLAN_BATCHES_PER_ROUND: Final = 20

# Reasons recorded in ``last_error`` (operators read them; no personal data).
OPTED_OUT: Final = "opted out"
NO_ROUTE: Final = "no verified conversation and no SMS gateway"
RECIPIENT_GONE: Final = "recipient no longer known (retention or a new phone)"
NO_TEXT: Final = "no utter_notify_status_ text for this status"


def address_key(address: str) -> str:
    """The SHA-256 (hex) of an address: what the outbox keeps to find a recipient again."""
    return hashlib.sha256(address.encode("utf-8")).hexdigest()


def masked_recipient(channel: str, address: str) -> str:
    """The address as people may see it: 138****5678, ``wechat:oAbc…yz``, ``web-1a2b…``."""
    if channel == SMS:
        return mask_phone(address)
    bare = address.split(":", 1)[-1].removeprefix("web-")
    return f"{channel}:{bare[:4]}…{bare[-2:]}" if len(bare) > 8 else f"{channel}:…"


@dataclass(frozen=True)
class NotificationPolicy:
    """What the worker may use and how it retries."""

    wechat_enabled: bool = False
    sms_enabled: bool = False
    max_attempts: int = 5
    retry_seconds: float = 30.0
    max_retry_seconds: float = 3600.0
    lease_seconds: float = 120.0
    max_age: timedelta = timedelta(hours=72)

    def retry_at(self, attempts: int, now: datetime) -> datetime:
        """When attempt ``attempts + 1`` may run: ``retry_seconds * 2^(attempts-1)``, capped."""
        delay = min(self.retry_seconds * 2 ** max(0, attempts - 1), self.max_retry_seconds)
        return now + timedelta(seconds=delay)


@dataclass(frozen=True)
class NotificationTexts:
    """The message per new status (domain.yml responses ``utter_notify_status_<status>``),
    overridden by the operators' edits of the content store (``/ops/content``) when given."""

    by_status: Mapping[str, str] = field(default_factory=dict)
    #: The operators' edits, read when a message is written (a check per interval, not per row).
    edits: ContentCache | None = None

    @classmethod
    def from_domain(
        cls, path: Path = DEFAULT_DOMAIN, edits: ContentCache | None = None
    ) -> NotificationTexts:
        """Reads the first text variant of each ``utter_notify_status_*`` response."""
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        texts: dict[str, str] = {}
        for name, variants in (data.get("responses") or {}).items():
            if str(name).startswith(TEXT_PREFIX) and variants:
                texts[str(name)[len(TEXT_PREFIX) :]] = str(variants[0].get("text") or "")
        return cls(texts, edits)

    def template(self, status: str) -> str | None:
        """The live text for ``status``: the operators' edit, else domain.yml's."""
        if self.edits is not None:
            edited = self.edits.current_sync().responses.get(TEXT_PREFIX + status)
            if edited:
                return edited
        return self.by_status.get(status)

    def render(self, status: str, case_id: str) -> str | None:
        """The masked message for a case's new status, or ``None`` when there is no text."""
        template = self.template(status)
        if not template:
            return None
        return mask_pii(fill_operator_facts(template.replace("{case_id}", case_id)))


@dataclass(frozen=True)
class Route:
    """Where a notification goes: channel, masked recipient, key of the address."""

    channel: str
    recipient: str = ""
    recipient_key: str = ""


def route_for(session: Session, merchant_id: str, policy: NotificationPolicy) -> Route:
    """The channel of the merchant's last verified conversation, else SMS, else none.

    A WeChat conversation counts only when the worker can send customer-service messages; a
    REST conversation that is not the widget has nowhere to show a message.
    """
    recipients = RecipientRepository(session)
    for sender_id in recipients.verified_conversations(merchant_id)[:1]:
        if sender_id.startswith(WECHAT_PREFIX) and policy.wechat_enabled:
            return Route(WECHAT, masked_recipient(WECHAT, sender_id), address_key(sender_id))
        if sender_id.startswith(WIDGET_PREFIX):
            return Route(WEB, masked_recipient(WEB, sender_id), address_key(sender_id))
    phone = recipients.registered_phone(merchant_id)
    if policy.sms_enabled and phone:
        return Route(SMS, masked_recipient(SMS, phone), address_key(phone))
    return Route(NO_CHANNEL)


def opted_out(session: Session, merchant_id: str, recipient_key: str) -> bool:
    """Whether the merchant, or the conversation, asked for no notifications."""
    subjects = [MERCHANT_SUBJECT + merchant_id]
    if recipient_key:
        subjects.append(RECIPIENT_SUBJECT + recipient_key)
    return OptOutRepository(session).any_opted_out(subjects)


def plan_notifications(
    session: Session, now: datetime, policy: NotificationPolicy, texts: NotificationTexts
) -> int:
    """Creates the outbox rows of status changes not planned yet; how many were created.

    Idempotent: two workers planning at once insert each row once (unique key).
    """
    repository = NotificationRepository(session)
    created = 0
    for _ in range(PLAN_BATCHES_PER_ROUND):
        events = repository.unplanned_status_events(now - policy.max_age, PLAN_BATCH)
        for event in events:
            created += _plan_one(session, repository, event, now, policy, texts)
        if len(events) < PLAN_BATCH:
            break
    return created


def _plan_one(
    session: Session,
    repository: NotificationRepository,
    event: StatusEvent,
    now: datetime,
    policy: NotificationPolicy,
    texts: NotificationTexts,
) -> int:
    route = route_for(session, event.merchant_id, policy)
    message = texts.render(event.new_status, event.case_id)
    status, error = PENDING, ""
    if route.channel == NO_CHANNEL:
        status, error = SKIPPED, NO_ROUTE
    elif message is None:
        status, error = SKIPPED, NO_TEXT
    elif opted_out(session, event.merchant_id, route.recipient_key):
        status, error = SKIPPED, OPTED_OUT
    values: dict[str, object] = {
        "idempotency_key": f"case-event:{event.event_id}:{route.channel}",
        "case_event_id": event.event_id,
        "case_id": event.case_id,
        "merchant_id": event.merchant_id,
        "channel": route.channel,
        "recipient": route.recipient,
        "recipient_key": route.recipient_key,
        "status": status,
        "attempts": 0,
        "next_attempt_at": now,
        "last_error": error,
        "created_at": now,
        "message": message or "",
    }
    return int(repository.add(values))


def claim_due(
    session: Session, now: datetime, policy: NotificationPolicy, limit: int
) -> list[Claimed]:
    """Claims up to ``limit`` due notifications for this worker (the caller commits)."""
    repository = NotificationRepository(session)
    until = now + timedelta(seconds=policy.lease_seconds)
    claimed = []
    for notification_id, attempts in repository.due(now, limit):
        if repository.claim(notification_id, attempts, now, until):
            claimed.append(repository.claimed(notification_id))
    return claimed


def address_of(session: Session, claimed: Claimed) -> str | None:
    """The address to send to (an OpenID, a phone), found again by its key; ``None`` if gone.

    The widget's inbox needs none: the conversation reads its rows by key.
    """
    recipients = RecipientRepository(session)
    if claimed.channel == WECHAT:
        for sender_id in recipients.verified_conversations(claimed.merchant_id):
            if address_key(sender_id) == claimed.recipient_key:
                return sender_id[len(WECHAT_PREFIX) :]
        return None
    if claimed.channel == SMS:
        phone = recipients.registered_phone(claimed.merchant_id)
        return phone if phone and address_key(phone) == claimed.recipient_key else None
    return ""


def record_outcome(
    session: Session,
    claimed: Claimed,
    *,
    delivered: bool,
    error: str,
    final: bool,
    now: datetime,
    policy: NotificationPolicy,
) -> str:
    """Marks a claimed notification sent, retried later, failed or skipped; the new status.

    ``final`` ends it without a retry (``skipped`` when nothing was sent).
    """
    repository = NotificationRepository(session)
    if delivered:
        status, retry_at = SENT, None
    elif final:
        status, retry_at = SKIPPED, None
    elif claimed.attempts >= policy.max_attempts:
        status, retry_at = FAILED, None
    else:
        status, retry_at = PENDING, policy.retry_at(claimed.attempts, now)
    repository.finish(
        claimed.id, claimed.attempts, status=status, now=now, error=error, retry_at=retry_at
    )
    return status


def take_inbox(session: Session, sender_id: str, now: datetime) -> list[str]:
    """The notifications waiting for a widget conversation, each returned once."""
    if not sender_id.startswith(WIDGET_PREFIX):
        return []
    repository = NotificationRepository(session)
    texts = []
    for row in repository.unseen_in_inbox(WEB, address_key(sender_id), INBOX_LIMIT):
        if repository.mark_seen(row.id, now):
            texts.append(row.message)
    return texts


def set_preference(
    session: Session, *, merchant_id: str | None, sender_id: str, opted_out: bool, now: datetime
) -> None:
    """Opts the verified merchant (if any) and this conversation out of notifications, or in."""
    repository = OptOutRepository(session)
    repository.set(RECIPIENT_SUBJECT + address_key(sender_id), opted_out, now)
    if merchant_id:
        repository.set(MERCHANT_SUBJECT + merchant_id, opted_out, now)


class NotificationService(StoreService):
    """What the channels and actions ask of the notifications (async, one transaction each)."""

    async def take_inbox(self, sender_id: str, now: datetime) -> list[str]:
        """See :func:`take_inbox`."""
        return await self.transaction(lambda session: take_inbox(session, sender_id, now))

    async def set_preference(
        self, *, merchant_id: str | None, sender_id: str, opted_out: bool, now: datetime
    ) -> None:
        """See :func:`set_preference`."""
        await self.transaction(
            lambda session: set_preference(
                session,
                merchant_id=merchant_id,
                sender_id=sender_id,
                opted_out=opted_out,
                now=now,
            )
        )

    async def plan(
        self, now: datetime, policy: NotificationPolicy, texts: NotificationTexts
    ) -> int:
        """See :func:`plan_notifications`."""
        return await self.transaction(
            lambda session: plan_notifications(session, now, policy, texts)
        )

    async def claim(self, now: datetime, policy: NotificationPolicy, limit: int) -> list[Claimed]:
        """See :func:`claim_due` (committed before anything is sent)."""
        return await self.transaction(lambda session: claim_due(session, now, policy, limit))

    async def address(self, claimed: Claimed) -> str | None:
        """See :func:`address_of`; also ``None`` when the recipient opted out meanwhile."""

        def work(session: Session) -> str | None:
            if opted_out(session, claimed.merchant_id, claimed.recipient_key):
                return None
            return address_of(session, claimed)

        return await self.transaction(work)

    async def is_opted_out(self, claimed: Claimed) -> bool:
        """Whether the merchant or the recipient opted out since the row was planned."""
        return await self.transaction(
            lambda session: opted_out(session, claimed.merchant_id, claimed.recipient_key)
        )

    async def record(
        self,
        claimed: Claimed,
        *,
        delivered: bool,
        error: str = "",
        final: bool = False,
        now: datetime,
        policy: NotificationPolicy,
    ) -> str:
        """See :func:`record_outcome`."""
        return await self.transaction(
            lambda session: record_outcome(
                session,
                claimed,
                delivered=delivered,
                error=error,
                final=final,
                now=now,
                policy=policy,
            )
        )
