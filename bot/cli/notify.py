"""``posbot case set-status`` (an operator changes a case's status) and ``posbot notify`` (the
worker that tells merchants; ``--once`` for one round, ``list`` and ``retry`` for operators).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from bot.channels.notifications import NotificationWorker

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_BAD_INPUT: Final = 2


def _set_status(args: argparse.Namespace) -> int:
    from bot.cli.main import _migrated_store
    from bot.clock import china_now
    from bot.services.case_status import StatusChangeError, set_case_status

    store = _migrated_store()
    try:
        with store.session() as session:
            change = set_case_status(
                session,
                case_id=args.case_id,
                status=args.status,
                missing=args.missing or [],
                reason=args.reason,
                now=china_now(),
            )
    except StatusChangeError as error:
        print(f"posbot case set-status: {error}; nothing changed", file=sys.stderr)
        return EXIT_BAD_INPUT
    if change.changed:
        print(
            f"{change.case_id}: {change.old_status} -> {change.new_status} "
            "(recorded; posbot notify tells the merchant)"
        )
    else:
        print(f"{change.case_id}: already {change.new_status}; nothing changed")
    return EXIT_OK


def _worker() -> NotificationWorker:
    from bot.channels.notifications import NotificationWorker, policy_for, senders_from_env
    from bot.cli.main import _migrated_store
    from bot.services.content import ContentCache
    from bot.services.notifications import NotificationService, NotificationTexts

    store = _migrated_store()
    senders = senders_from_env()
    # Texts edited at /ops/content reach the notifications too (checked once per interval).
    texts = NotificationTexts.from_domain(edits=ContentCache(lambda: store))
    return NotificationWorker(NotificationService(store), senders, policy_for(senders), texts)


def _notify(args: argparse.Namespace) -> int:
    from bot.settings import NOTIFY_POLL_SECONDS

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    worker = _worker()
    if args.once:

        async def once() -> int:
            try:
                report = await worker.run_once()
            finally:
                await worker.close()
            print(
                f"planned {report.planned}, sent {report.sent}, to retry {report.retried}, "
                f"failed {report.failed}, skipped {report.skipped}"
            )
            return EXIT_OK

        return asyncio.run(once())
    poll = args.poll_seconds or NOTIFY_POLL_SECONDS.read()

    async def forever() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        print(f"posbot notify: sending status notifications every {poll:g}s", flush=True)
        try:
            await worker.run_forever(poll, stop)
        finally:
            await worker.close()
        return EXIT_OK

    return asyncio.run(forever())


def _list(args: argparse.Namespace) -> int:
    from bot.cli.main import _migrated_store
    from bot.store.notifications import NotificationRepository

    store = _migrated_store()
    with store.session() as session:
        rows = NotificationRepository(session).listing(
            status=args.status, case_id=args.case, limit=args.limit
        )
        for row in rows:
            sent = f"{row.sent_at:%Y-%m-%d %H:%M:%S}" if row.sent_at else "-"
            print(
                f"{row.id}\t{row.case_id}\t{row.channel}\t{row.recipient or '-'}\t{row.status}\t"
                f"attempts {row.attempts}\tcreated {row.created_at:%Y-%m-%d %H:%M:%S}\t"
                f"sent {sent}\t{row.last_error or ''}"
            )
    return EXIT_OK


def _retry(args: argparse.Namespace) -> int:
    from bot.cli.main import _migrated_store
    from bot.clock import china_now
    from bot.store.notifications import NotificationRepository

    store = _migrated_store()
    with store.session() as session:
        count = NotificationRepository(session).retry_failed(china_now(), args.id)
    print(f"{count} failed notification(s) queued again")
    return EXIT_OK


def add_parsers(commands: argparse._SubParsersAction) -> None:
    """Adds ``case`` and ``notify`` to ``posbot``'s commands."""
    from bot.domain_values import CASE_STATUSES
    from bot.store.notifications import NOTIFICATION_STATUSES

    case = commands.add_parser("case", help="operator changes to cases")
    case_commands = case.add_subparsers(dest="case_command", required=True)
    status = case_commands.add_parser(
        "set-status", help="set a case's status (recorded as an event, the merchant is notified)"
    )
    status.add_argument("case_id", help="JC + 12 digits")
    status.add_argument("status", help=" | ".join(CASE_STATUSES))
    status.add_argument(
        "--missing",
        action="append",
        help="a missing document (needs_documents; repeat it or separate with ;)",
    )
    status.add_argument("--reason", help="the rejection reason (rejected)")
    status.set_defaults(run=_set_status)

    notify = commands.add_parser("notify", help="send status notifications (worker loop)")
    notify.add_argument("--once", action="store_true", help="one round, then exit")
    notify.add_argument("--poll-seconds", type=float, default=None)
    notify.set_defaults(run=_notify)
    notify_commands = notify.add_subparsers(dest="notify_command")
    listing = notify_commands.add_parser("list", help="the newest notifications")
    listing.add_argument("--status", choices=NOTIFICATION_STATUSES)
    listing.add_argument("--case", help="only this case id")
    listing.add_argument("--limit", type=int, default=50)
    listing.set_defaults(run=_list)
    retry = notify_commands.add_parser("retry", help="queue failed notifications again")
    retry.add_argument("--id", type=int, default=None, help="only this notification")
    retry.set_defaults(run=_retry)
