"""The notification worker (``posbot notify``): plans, claims, sends and marks status
notifications (see :mod:`bot.services.notifications` for who gets what).

Senders: WeChat's customer-service message API (:class:`WeChatSender`, the Official Account's
settings), the widget's inbox (:class:`InboxSender`: the row itself is the inbox, ``sent``
makes it visible to the conversation's next poll) and one HTTP SMS gateway
(:class:`SmsGatewaySender`, ``POSBOT_SMS_GATEWAY_URL``). Every message carries its
notification's idempotency key (header ``Idempotency-Key``), the same on every retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final, Protocol

import aiohttp

from bot.channels.wechat.api import IDEMPOTENCY_HEADER, WeChatApiClient
from bot.clock import china_now
from bot.services.base import StoreUnavailable
from bot.services.notifications import (
    RECIPIENT_GONE,
    SENT,
    SMS,
    WEB,
    WECHAT,
    Claimed,
    NotificationPolicy,
    NotificationService,
    NotificationTexts,
)
from bot.settings import (
    NOTIFY_MAX_AGE_HOURS,
    NOTIFY_MAX_ATTEMPTS,
    NOTIFY_RETRY_SECONDS,
    SMS_GATEWAY_URL,
    SMS_TEMPLATE,
    SMS_TOKEN,
    WECHAT_API_BASE,
    WECHAT_APPID,
    WECHAT_APPSECRET,
)

logger = logging.getLogger(__name__)

CLAIM_BATCH: Final = 20
SEND_TIMEOUT_SECONDS: Final = 10.0
OPTED_OUT_ERROR: Final = "opted out before sending"


@dataclass(frozen=True)
class SendResult:
    """How one send went: delivered, or the reason (no personal data)."""

    delivered: bool
    error: str = ""


class Sender(Protocol):
    """Sends one notification to an address."""

    async def send(self, address: str, text: str, key: str, case_id: str) -> SendResult:
        """Delivers ``text``; the receiver may drop a repeated ``key``."""

    async def close(self) -> None:
        """Releases connections."""


class InboxSender:
    """The widget's inbox: nothing to send, the row becomes visible once marked ``sent``."""

    async def send(self, address: str, text: str, key: str, case_id: str) -> SendResult:
        """See :class:`Sender`."""
        return SendResult(True)

    async def close(self) -> None:
        """See :class:`Sender`."""


class WeChatSender:
    """Customer-service text messages of the Official Account."""

    def __init__(self, client: WeChatApiClient) -> None:
        self.client = client

    async def send(self, address: str, text: str, key: str, case_id: str) -> SendResult:
        """See :class:`Sender`."""
        if await self.client.send_text(address, text, idempotency_key=key):
            return SendResult(True)
        return SendResult(False, "WeChat did not accept the message (see the worker's log)")

    async def close(self) -> None:
        """See :class:`Sender`."""
        await self.client.close()


class SmsGatewaySender:
    """One HTTP SMS gateway: ``POST url`` with ``{"to", "text", "idempotency_key"}`` as JSON.

    A 2xx answer is delivery; anything else (or no answer) is retried.
    """

    def __init__(
        self,
        url: str,
        template: str = "{text}",
        token: str = "",
        timeout: float = SEND_TIMEOUT_SECONDS,
    ) -> None:
        self.url = url
        self.template = template
        self._token = token
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    def text_of(self, text: str, case_id: str) -> str:
        """The SMS text from the template."""
        return self.template.replace("{case_id}", case_id).replace("{text}", text)

    async def send(self, address: str, text: str, key: str, case_id: str) -> SendResult:
        """See :class:`Sender`."""
        headers = {IDEMPOTENCY_HEADER: key}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        body = {"to": address, "text": self.text_of(text, case_id), "idempotency_key": key}
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        try:
            async with self._session.post(self.url, json=body, headers=headers) as response:
                if 200 <= response.status < 300:
                    return SendResult(True)
                return SendResult(False, f"SMS gateway answered HTTP {response.status}")
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            return SendResult(False, f"SMS gateway unreachable: {type(error).__name__}")

    async def close(self) -> None:
        """See :class:`Sender`."""
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None


def senders_from_env(environ: Mapping[str, str] | None = None) -> dict[str, Sender]:
    """The senders the settings allow: the inbox always, WeChat with an AppID and AppSecret,
    SMS with a gateway URL."""
    senders: dict[str, Sender] = {WEB: InboxSender()}
    app_id, secret = WECHAT_APPID.read(environ), WECHAT_APPSECRET.read(environ)
    if app_id and secret:
        client = WeChatApiClient(app_id, secret, WECHAT_API_BASE.read(environ))
        senders[WECHAT] = WeChatSender(client)
    # Every setting is read (and checked) even when unused: a typo fails at start, not later.
    url, template = SMS_GATEWAY_URL.read(environ), SMS_TEMPLATE.read(environ)
    token = SMS_TOKEN.read(environ)
    if url:
        senders[SMS] = SmsGatewaySender(url, template, token)
    return senders


def policy_for(
    senders: Mapping[str, Sender], environ: Mapping[str, str] | None = None
) -> NotificationPolicy:
    """The retry policy from the settings, for these senders."""
    return NotificationPolicy(
        wechat_enabled=WECHAT in senders,
        sms_enabled=SMS in senders,
        max_attempts=NOTIFY_MAX_ATTEMPTS.read(environ),
        retry_seconds=NOTIFY_RETRY_SECONDS.read(environ),
        max_age=timedelta(hours=NOTIFY_MAX_AGE_HOURS.read(environ)),
    )


@dataclass
class RoundReport:
    """What one round did."""

    planned: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)


class NotificationWorker:
    """One worker: any number may run at once (each row is claimed by one)."""

    def __init__(
        self,
        service: NotificationService,
        senders: Mapping[str, Sender],
        policy: NotificationPolicy,
        texts: NotificationTexts,
        clock: Callable[[], datetime] = china_now,
    ) -> None:
        self.service = service
        self.senders = senders
        self.policy = policy
        self.texts = texts
        self.clock = clock

    async def run_once(self) -> RoundReport:
        """Plans new status changes, then sends what is due (until nothing is left)."""
        report = RoundReport(planned=await self.service.plan(self.clock(), self.policy, self.texts))
        while True:
            claimed = await self.service.claim(self.clock(), self.policy, CLAIM_BATCH)
            if not claimed:
                return report
            for item in claimed:
                status = await self._deliver(item)
                report.outcomes[status] = report.outcomes.get(status, 0) + 1
                if status == SENT:
                    report.sent += 1
                elif status == "pending":
                    report.retried += 1
                elif status == "failed":
                    report.failed += 1
                else:
                    report.skipped += 1

    async def _deliver(self, item: Claimed) -> str:
        """Sends one claimed notification and records how it went."""
        sender = self.senders.get(item.channel)
        address = await self.service.address(item)
        if address is None:
            opted = await self.service.is_opted_out(item)
            error = OPTED_OUT_ERROR if opted else RECIPIENT_GONE
            return await self._record(item, delivered=False, error=error, final=True)
        if sender is None:
            result = SendResult(False, f"channel {item.channel} is not configured")
        else:
            result = await sender.send(address, item.message, item.idempotency_key, item.case_id)
        if not result.delivered:
            logger.warning(
                "Notification %d (%s, attempt %d) not delivered: %s",
                item.id,
                item.channel,
                item.attempts,
                result.error,
            )
        return await self._record(item, delivered=result.delivered, error=result.error)

    async def _record(
        self, item: Claimed, *, delivered: bool, error: str, final: bool = False
    ) -> str:
        return await self.service.record(
            item,
            delivered=delivered,
            error=error,
            final=final,
            now=self.clock(),
            policy=self.policy,
        )

    async def run_forever(self, poll_seconds: float, stop: asyncio.Event) -> None:
        """Runs rounds every ``poll_seconds`` until ``stop`` is set; a database outage is
        logged and the next round tries again."""
        while not stop.is_set():
            try:
                report = await self.run_once()
                if report.planned or report.outcomes:
                    logger.info(
                        "notifications: %d planned, %d sent, %d to retry, %d failed, %d skipped",
                        report.planned,
                        report.sent,
                        report.retried,
                        report.failed,
                        report.skipped,
                    )
            except StoreUnavailable as error:
                logger.error("Notification round failed, case store unavailable: %s", error)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=poll_seconds)

    async def close(self) -> None:
        """Closes every sender."""
        for sender in self.senders.values():
            await sender.close()
