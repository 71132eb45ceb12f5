"""The notification worker against a real SQLite store (and PostgreSQL for the race), with a
fake SMS gateway and a fake WeChat API: once per status change, retries, failure, opt-out."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from bot.channels.notifications import (
    InboxSender,
    NotificationWorker,
    SmsGatewaySender,
    WeChatSender,
    policy_for,
    senders_from_env,
)
from bot.channels.wechat.api import WeChatApiClient
from bot.clock import china_now
from bot.services.case_status import set_case_status
from bot.services.identity import check_identity
from bot.services.notifications import (
    NO_ROUTE,
    OPTED_OUT,
    NotificationPolicy,
    NotificationService,
    NotificationTexts,
    address_key,
    set_preference,
    take_inbox,
)
from bot.settings import (
    DB_URL,
    NOTIFY_MAX_ATTEMPTS,
    SMS_GATEWAY_URL,
    WECHAT_API_BASE,
    WECHAT_APPID,
    WECHAT_APPSECRET,
)
from bot.store.database import CaseStore
from bot.store.importer import import_cases_text
from bot.store.models import CaseEvent, Notification
from bot.store.seed import demo_csv
from tests.bot.store.conftest import pg_store  # noqa: F401  (throw-away PostgreSQL database)
from tests.conftest import NOW, ROOT
from tests.notify_fakes import FakeSmsGateway, FakeWeChatApi
from tests.security.concurrency import in_parallel, migrated_store  # noqa: F401

MERCHANT = "898310058121234"  # 张记便利店, phone 13812345678, case JC202611250001 under review
CASE = "JC202611250001"
OTHER_MERCHANT = "898310058127777"  # 赵家五金店, phone 13600003333, needs documents
OTHER_CASE = "JC202611220004"
WIDGET = "rest:web-0123456789abcdef01234567"
OPENID = "oPOSBOT_fake_openid_0001"
TEXTS = NotificationTexts.from_domain(ROOT / "domain.yml")


class Clock:
    """A clock the test moves forward."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def sms():
    gateway = FakeSmsGateway().start()
    yield gateway
    gateway.stop()


@pytest.fixture
def wechat():
    api = FakeWeChatApi().start()
    yield api
    api.stop()


def verify(store: CaseStore, merchant_id: str, phone_last4: str, sender_id: str, now: datetime):
    with store.session() as session:
        result = check_identity(
            session,
            merchant_id=merchant_id,
            case_id=None,
            phone_last4=phone_last4,
            sender_id=sender_id,
            now=now,
        )
    assert result.outcome.value == "verified"


def set_status(store: CaseStore, case_id: str, status: str, now: datetime, **details) -> None:
    with store.session() as session:
        change = set_case_status(
            session,
            case_id=case_id,
            status=status,
            missing=details.get("missing", []),
            reason=details.get("reason"),
            now=now,
        )
    assert change.changed


def rows(store: CaseStore) -> list[Notification]:
    with store.session() as session:
        return list(session.execute(select(Notification).order_by(Notification.id)).scalars())


def worker(store, senders, clock, **policy) -> NotificationWorker:
    settings = {
        "sms_enabled": "sms" in senders,
        "wechat_enabled": "wechat" in senders,
        **policy,
    }
    return NotificationWorker(
        NotificationService(store), senders, NotificationPolicy(**settings), TEXTS, clock
    )


def run(work: NotificationWorker):
    async def once():
        try:
            return await work.run_once()
        finally:
            await work.close()

    return asyncio.run(once())


def test_every_status_change_is_told_once_in_the_widget(seeded_store, now):
    clock = Clock(now)
    verify(seeded_store, MERCHANT, "5678", WIDGET, now)
    steps = [
        ("needs_documents", {"missing": ["营业执照副本"]}),
        ("under_review", {}),
        ("rejected", {"reason": "材料不清晰"}),
    ]
    shown: list[str] = []
    for status, details in steps:
        clock.advance(60)
        set_status(seeded_store, CASE, status, clock.now, **details)
        report = run(worker(seeded_store, {"web": InboxSender()}, clock))
        assert (report.planned, report.sent) == (1, 1)
        with seeded_store.session() as session:
            shown += take_inbox(session, WIDGET, clock.now)
            assert take_inbox(session, WIDGET, clock.now) == []  # each shown once
    again = run(worker(seeded_store, {"web": InboxSender()}, clock))
    assert (again.planned, again.sent) == (0, 0)
    stored = rows(seeded_store)
    assert [(r.channel, r.status, r.attempts) for r in stored] == [("web", "sent", 1)] * 3
    assert [r.idempotency_key.split(":")[2] for r in stored] == ["web"] * 3
    assert len({r.case_event_id for r in stored}) == 3
    assert all(
        r.recipient_key == address_key(WIDGET) and r.recipient.startswith("web:") for r in stored
    )
    assert [text for text in shown] == [r.message for r in stored]
    assert "需要补充材料" in shown[0] and "已进入审核" in shown[1] and "未通过审核" in shown[2]
    assert all(CASE in text for text in shown)
    # Never more than the case id and the status: no documents, reason, name or phone.
    for text in shown:
        for fact in ("营业执照副本", "材料不清晰", "张记", "13812345678", "5678"):
            assert fact not in text
    # Another conversation's inbox holds nothing.
    with seeded_store.session() as session:
        assert take_inbox(session, "rest:web-ffffffffffffffffffffffff", clock.now) == []


def test_a_status_change_from_the_csv_import_is_told(seeded_store, now, sms):
    later = now + timedelta(hours=1)
    changed = demo_csv(now).replace("under_review", "approved", 1)
    import_cases_text(seeded_store, changed, now=later)
    senders = {"web": InboxSender(), "sms": SmsGatewaySender(sms.url)}
    report = run(worker(seeded_store, senders, Clock(later)))
    assert (report.planned, report.sent) == (1, 1)
    [row] = rows(seeded_store)
    # No verified conversation: SMS to the registered phone (a gateway is configured).
    assert (row.case_id, row.channel, row.recipient, row.status) == (
        CASE,
        "sms",
        "138****5678",
        "sent",
    )
    [received] = sms.delivered
    assert received.body["to"] == "13812345678"
    assert received.body["idempotency_key"] == row.idempotency_key
    assert "已审核通过" in received.body["text"] and CASE in received.body["text"]
    # The same file again changes nothing and tells nothing.
    import_cases_text(seeded_store, changed, now=later + timedelta(minutes=5))
    assert run(worker(seeded_store, senders, Clock(later))).planned == 0
    assert len(sms.requests) == 1


def test_without_a_channel_nothing_is_promised_and_the_row_is_skipped(seeded_store, now):
    set_status(seeded_store, CASE, "approved", now)
    report = run(worker(seeded_store, {"web": InboxSender()}, Clock(now)))
    assert (report.planned, report.sent, report.skipped) == (1, 0, 0)
    [row] = rows(seeded_store)
    assert (row.channel, row.status, row.last_error, row.attempts) == (
        "none",
        "skipped",
        NO_ROUTE,
        0,
    )


def test_a_crash_between_send_and_mark_is_retried_with_the_same_key(seeded_store, now, sms):
    clock = Clock(now)
    set_status(seeded_store, CASE, "approved", now)
    sender = SmsGatewaySender(sms.url)
    work = worker(seeded_store, {"sms": sender}, clock, lease_seconds=120)
    service = work.service

    async def crash_after_send():
        await service.plan(clock.now, work.policy, TEXTS)
        [claimed] = await service.claim(clock.now, work.policy, 10)
        address = await service.address(claimed)
        assert address == "13812345678"
        result = await sender.send(address, claimed.message, claimed.idempotency_key, CASE)
        assert result.delivered
        await sender.close()
        # ... the worker dies here: nothing marks the row.

    asyncio.run(crash_after_send())
    [row] = rows(seeded_store)
    assert (row.status, row.attempts) == ("pending", 1)
    # A second worker does not touch it while the first one's lease lasts ...
    assert run(worker(seeded_store, {"sms": SmsGatewaySender(sms.url)}, clock)).outcomes == {}
    # ... and sends it again, with the same key, once the lease is over: the gateway drops it.
    clock.advance(121)
    report = run(worker(seeded_store, {"sms": SmsGatewaySender(sms.url)}, clock))
    assert report.sent == 1
    [row] = rows(seeded_store)
    assert (row.status, row.attempts) == ("sent", 2)
    assert sms.keys_requested() == [row.idempotency_key, row.idempotency_key]
    assert len(sms.delivered) == 1


def test_an_unreachable_gateway_is_retried_with_backoff_then_failed(seeded_store, now, sms):
    sms.down = True
    clock = Clock(now)
    verify(seeded_store, MERCHANT, "5678", "rest:api-client-1", now)  # not the widget: SMS
    set_status(seeded_store, CASE, "approved", now)
    policy = {"max_attempts": 3, "retry_seconds": 30}
    make = lambda: worker(seeded_store, {"sms": SmsGatewaySender(sms.url)}, clock, **policy)  # noqa: E731
    assert run(make()).retried == 1
    [row] = rows(seeded_store)
    assert (row.status, row.attempts, row.next_attempt_at) == (
        "pending",
        1,
        now + timedelta(seconds=30),
    )
    assert row.last_error == "SMS gateway answered HTTP 503"
    clock.advance(29)
    assert run(make()).outcomes == {}  # not due yet
    clock.advance(1)
    assert run(make()).retried == 1
    [row] = rows(seeded_store)
    assert (row.attempts, row.next_attempt_at) == (2, clock.now + timedelta(seconds=60))
    clock.advance(60)
    assert run(make()).failed == 1
    [row] = rows(seeded_store)
    assert (row.status, row.attempts, row.sent_at) == ("failed", 3, None)
    clock.advance(3600)
    assert run(make()).outcomes == {}  # failed stays failed
    assert len(sms.requests) == 3 and sms.delivered == []


def test_a_closed_port_counts_as_unreachable(seeded_store, now):
    set_status(seeded_store, CASE, "approved", now)
    sender = SmsGatewaySender("http://127.0.0.1:9/sms", timeout=2)
    run(worker(seeded_store, {"sms": sender}, Clock(now), max_attempts=1))
    [row] = rows(seeded_store)
    assert (row.status, row.attempts) == ("failed", 1)
    assert row.last_error.startswith("SMS gateway unreachable: ")


def test_opt_out_is_honoured_before_planning_and_before_sending(seeded_store, now, sms):
    clock = Clock(now)
    verify(seeded_store, MERCHANT, "5678", WIDGET, now)
    with seeded_store.session() as session:
        set_preference(session, merchant_id=MERCHANT, sender_id=WIDGET, opted_out=True, now=now)
    set_status(seeded_store, CASE, "needs_documents", now, missing=["营业执照"])
    run(worker(seeded_store, {"web": InboxSender()}, clock))
    [row] = rows(seeded_store)
    assert (row.status, row.last_error) == ("skipped", OPTED_OUT)
    with seeded_store.session() as session:
        assert take_inbox(session, WIDGET, now) == []
        # Back in: the next change is told.
        set_preference(session, merchant_id=MERCHANT, sender_id=WIDGET, opted_out=False, now=now)
    clock.advance(60)
    set_status(seeded_store, CASE, "under_review", clock.now)
    assert run(worker(seeded_store, {"web": InboxSender()}, clock)).sent == 1
    # Opting out after a row was planned (SMS, an unverified conversation's opt-out covers only
    # that conversation; the merchant's covers every channel) stops it before it is sent.
    clock.advance(60)
    set_status(seeded_store, OTHER_CASE, "approved", clock.now)
    senders = {"sms": SmsGatewaySender(sms.url)}
    work = worker(seeded_store, senders, clock)
    asyncio.run(work.service.plan(clock.now, work.policy, TEXTS))
    with seeded_store.session() as session:
        set_preference(
            session, merchant_id=OTHER_MERCHANT, sender_id="wechat:x", opted_out=True, now=now
        )
    run(work)
    last = rows(seeded_store)[-1]
    assert (last.case_id, last.channel, last.status) == (OTHER_CASE, "sms", "skipped")
    assert sms.requests == []


def test_wechat_gets_a_customer_service_message(seeded_store, now, wechat):
    clock = Clock(now)
    verify(seeded_store, MERCHANT, "5678", f"wechat:{OPENID}", now)
    set_status(seeded_store, CASE, "approved", now)
    environ = {
        WECHAT_APPID.env: "wx_fake_app",
        WECHAT_APPSECRET.env: "fake_secret",
        WECHAT_API_BASE.env: wechat.base_url,
    }
    senders = senders_from_env(environ)
    assert set(senders) == {"web", "wechat"}
    assert policy_for(senders, environ).wechat_enabled
    report = run(worker(seeded_store, senders, clock))
    assert report.sent == 1
    [row] = rows(seeded_store)
    assert (row.channel, row.status) == ("wechat", "sent")
    assert row.recipient == "wechat:oPOS…01" and OPENID not in row.recipient
    [received] = wechat.delivered
    assert received.body["touser"] == OPENID
    assert received.body["msgtype"] == "text"
    assert received.body["text"]["content"] == row.message
    assert received.key == row.idempotency_key


def test_wechat_refusing_is_retried(seeded_store, now, wechat):
    wechat.fail_next = 1
    clock = Clock(now)
    verify(seeded_store, MERCHANT, "5678", f"wechat:{OPENID}", now)
    set_status(seeded_store, CASE, "approved", now)
    client = WeChatApiClient("wx_fake_app", "fake_secret", wechat.base_url)
    make = lambda: worker(seeded_store, {"wechat": WeChatSender(client)}, clock)  # noqa: E731
    assert run(make()).retried == 1
    clock.advance(30)
    client = WeChatApiClient("wx_fake_app", "fake_secret", wechat.base_url)
    assert run(make()).sent == 1
    assert len(wechat.requests) == 2 and len(wechat.delivered) == 1


def _many_changes(store: CaseStore, now: datetime, count: int) -> None:
    """``count`` status changes of the demo cases, alternating statuses."""
    with store.session() as session:
        events = [
            CaseEvent(
                case_id=CASE,
                kind="status_changed",
                detail=f"under_review -> {'approved' if n % 2 else 'under_review'}",
                occurred_at=now,
            )
            for n in range(count)
        ]
        session.add_all(events)


def test_two_workers_in_parallel_never_send_a_row_twice(migrated_store, sms):  # noqa: F811
    now = NOW
    _many_changes(migrated_store, now, 40)
    clock = Clock(now)

    def one_worker(_number: int):
        return run(worker(migrated_store, {"sms": SmsGatewaySender(sms.url)}, clock))

    reports = in_parallel(4, one_worker)
    assert sum(report.sent for report in reports) == 40
    keys = sms.keys_requested()
    assert len(keys) == 40 and len(set(keys)) == 40  # not one request repeated
    stored = rows(migrated_store)
    assert len(stored) == 40
    assert {(r.status, r.attempts) for r in stored} == {("sent", 1)}


def test_the_worker_settings(monkeypatch):
    monkeypatch.delenv(SMS_GATEWAY_URL.env, raising=False)
    monkeypatch.setenv(NOTIFY_MAX_ATTEMPTS.env, "7")
    senders = senders_from_env({})
    assert set(senders) == {"web"}  # no gateway: no SMS, and no WeChat without its secret
    policy = policy_for(senders)
    assert (policy.sms_enabled, policy.wechat_enabled, policy.max_attempts) == (False, False, 7)
    assert policy.retry_at(1, NOW) == NOW + timedelta(seconds=30)
    assert policy.retry_at(4, NOW) == NOW + timedelta(seconds=240)
    assert policy.retry_at(30, NOW) == NOW + timedelta(hours=1)


def test_texts_exist_for_every_status():
    from bot.domain_values import CASE_STATUSES

    assert set(TEXTS.by_status) == set(CASE_STATUSES)
    assert all("{case_id}" in text and "短信" not in text for text in TEXTS.by_status.values())


def test_status_events_older_than_the_window_are_not_told(seeded_store, now):
    set_status(seeded_store, CASE, "approved", now - timedelta(hours=80))
    report = run(worker(seeded_store, {"web": InboxSender()}, Clock(now)))
    assert report.planned == 0 and rows(seeded_store) == []


def test_two_worker_processes_never_send_a_row_twice(migrated_store, sms):  # noqa: F811
    """Two real `posbot notify --once` processes started together over the same store."""
    import os
    import subprocess
    import sys

    _many_changes(migrated_store, china_now(), 150)
    env = {
        **os.environ,
        DB_URL.env: migrated_store.url,
        SMS_GATEWAY_URL.env: sms.url,
        "RASA_TELEMETRY_ENABLED": "false",
    }
    command = [sys.executable, "-m", "bot.cli.main", "notify", "--once"]
    workers = [
        subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [worker.communicate(timeout=300)[0] for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], outputs
    keys = sms.keys_requested()
    assert len(keys) == 150 and len(set(keys)) == 150, outputs
    assert {(r.status, r.attempts) for r in rows(migrated_store)} == {("sent", 1)}


async def test_an_operator_edit_of_a_notification_text_is_used(store):
    """A text edited at /ops/content is the one the worker sends; a revert restores domain.yml's."""
    import yaml

    from bot.services.content import RESPONSE, ContentCache, ContentService

    responses = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))["responses"]
    cache = ContentCache(lambda: store, check_seconds=0.0)
    service = ContentService(responses, store, cache)
    texts = NotificationTexts.from_domain(ROOT / "domain.yml", edits=cache)
    edited = "【进度】申请 {case_id} 审核通过了，终端可以正常使用。回复“不要再通知我”可退订。"
    edit = await service.edit(RESPONSE, "utter_notify_status_approved", edited, "ops1")
    assert texts.render("approved", CASE) == edited.replace("{case_id}", CASE)
    await service.revert(edit.id, "ops1")
    assert texts.render("approved", CASE) == TEXTS.render("approved", CASE)
