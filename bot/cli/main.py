"""``posbot``: manage the case store and run the bot.

Examples:
    posbot db setup                 # create tables; load the demo data into an empty store
    posbot db import export.csv     # import the back office's case export (all or nothing)
    posbot serve                    # action server + Rasa server (REST on :5005)
    posbot serve --shell            # action server + chat in the terminal
    posbot prod start               # production profile: PostgreSQL, Redis, nginx, 2+2 servers
    posbot case set-status JC202611180023 approved   # the merchant is notified
    posbot notify                   # the notification worker (`make run` starts it)
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from bot.settings import TRACKER_URL, SettingError
from bot.store.database import CaseStore, database_url
from bot.store.importer import (
    DEFAULT_ENCODING,
    ENCODINGS,
    CsvImportError,
    import_cases_csv,
)
from bot.store.repositories import MerchantRepository
from bot.store.seed import seed_demo_data

TRACKER_URL_ENV = TRACKER_URL.env
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


def _store() -> CaseStore:
    return CaseStore(database_url())


def _migrated_store() -> CaseStore:
    """The configured store with its schema at the latest revision."""
    from bot.store.migrate import upgrade

    store = _store()
    upgrade(store)
    return store


def _db_init(_args: argparse.Namespace) -> int:
    store = _migrated_store()
    print(f"case store ready: {store.engine.url.render_as_string(hide_password=True)}")
    return EXIT_OK


def _db_seed(_args: argparse.Namespace) -> int:
    store = _migrated_store()
    result = seed_demo_data(store)
    print(f"demo data loaded: {result.rows} rows, {result.cases_created} new cases")
    return EXIT_OK


def _db_upgrade(_args: argparse.Namespace) -> int:
    from bot.store.migrate import current_revision, upgrade

    store = _store()
    before = current_revision(store)
    upgrade(store)
    print(f"case store schema: {before or 'empty'} -> {current_revision(store)}")
    return EXIT_OK


def _db_setup(_args: argparse.Namespace) -> int:
    store = _migrated_store()
    with store.session() as session:
        merchants = MerchantRepository(session).count()
    if merchants:
        print(f"case store ready ({merchants} merchants)")
        return EXIT_OK
    return _db_seed(_args)


def _db_import(args: argparse.Namespace) -> int:
    store = _migrated_store()
    try:
        result = import_cases_csv(store, Path(args.file), encoding=args.encoding)
    except CsvImportError as error:
        print(f"{args.file}: rejected, nothing was imported:", file=sys.stderr)
        for row_error in error.errors:
            print(f"  {row_error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as error:
        print(f"{args.file}: cannot read: {error.strerror}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(
        f"imported {result.rows} rows: cases {result.cases_created} new, "
        f"{result.cases_updated} updated, {result.cases_unchanged} unchanged; "
        f"merchants {result.merchants_created} new, {result.merchants_updated} updated; "
        f"terminals {result.terminals_created} new, {result.terminals_updated} updated"
    )
    return EXIT_OK


def _review(args: argparse.Namespace) -> int:
    from bot.quality.review import (
        group_misses,
        load_misses,
        load_unhelpful,
        write_unhelpful,
        write_worksheet,
    )

    store = _migrated_store()
    with store.session() as session:
        misses = load_misses(session)
        groups = group_misses(misses, args.groups)
        unhelpful = load_unhelpful(session)
    if unhelpful:
        path = write_unhelpful(unhelpful, Path(args.out))
        print(f"{len(unhelpful)} answers marked not helpful: {path}")
    if not groups:
        print("no missed messages recorded yet")
        return EXIT_OK
    markdown, table = write_worksheet(groups, Path(args.out))
    print(f"{len(misses)} missed messages in {len(groups)} groups: {markdown}, {table}")
    return EXIT_OK


def _report(args: argparse.Namespace) -> int:
    from bot.services.console import ConsoleData, Period, PeriodError
    from bot.services.console_report import format_report, write_csv_files

    try:
        period = Period.parse(args.since, args.until)
    except PeriodError as error:
        print(f"posbot report: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    figures = ConsoleData(_migrated_store()).compute(period)
    print(format_report(period, figures), end="")
    if args.csv:
        written = write_csv_files(period, figures, Path(args.csv))
        print(f"{len(written)} CSV files in {args.csv}")
    return EXIT_OK


def _embedded_tracker_url() -> str | None:
    """The SQLite tracker store of ``make run`` when it exists (POSBOT_TRACKER_URL unset)."""
    from bot.store.tracker_store import DEFAULT_TRACKER_URL

    path = Path(DEFAULT_TRACKER_URL.removeprefix("sqlite:///"))
    return DEFAULT_TRACKER_URL if path.exists() else None


def _retention(args: argparse.Namespace) -> int:
    from bot.clock import china_now
    from bot.store.retention import apply_retention

    try:
        report = apply_retention(
            _migrated_store(),
            days=args.days,
            audit_days=args.audit_days,
            now=china_now(),
            tracker_url=TRACKER_URL.read() if TRACKER_URL.raw() else _embedded_tracker_url(),
        )
    except ValueError as error:
        print(f"posbot retention: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(
        f"older than {args.days} days: {report.misses_deleted} missed messages, "
        f"{report.after_hours_deleted} after-hours requests and "
        f"{report.attempts_deleted} identity checks deleted, {report.tickets_anonymised} "
        f"tickets anonymised, {report.tracker_events_deleted} conversation events deleted, "
        f"{report.drafts_deleted} application drafts older than a day deleted; "
        f"{report.audits_deleted} audit rows older than {args.audit_days} days deleted"
    )
    return EXIT_OK


def _codes_check(args: argparse.Namespace) -> int:
    from bot.services.response_codes import CodeTableError, load_table, table_path

    path = Path(args.file) if args.file else table_path()
    try:
        table = load_table(path)
    except CodeTableError as error:
        print(f"posbot codes: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"{path}: {len(table.codes)} codes, {len(table.phrases)} screen texts, valid")
    return EXIT_OK


def _serve(args: argparse.Namespace) -> int:
    from bot.cli.serve import serve

    return serve(model=args.model, shell=args.shell, port=args.port, actions_port=args.actions_port)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``posbot``."""
    parser = argparse.ArgumentParser(prog="posbot", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    db = commands.add_parser("db", help="manage the case store (POSBOT_DB_URL)")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("init", help="create missing tables").set_defaults(run=_db_init)
    db_commands.add_parser(
        "upgrade", help="apply schema migrations (Alembic) up to the latest revision"
    ).set_defaults(run=_db_upgrade)
    db_commands.add_parser("seed", help="load the demo data").set_defaults(run=_db_seed)
    db_commands.add_parser(
        "setup", help="create tables; load the demo data if the store is empty"
    ).set_defaults(run=_db_setup)
    importer = db_commands.add_parser("import", help="import a case export (CSV contract)")
    importer.add_argument("file", help="UTF-8 CSV file with the contract's columns")
    importer.add_argument(
        "--encoding",
        choices=sorted(ENCODINGS),
        default=DEFAULT_ENCODING,
        help="the file's encoding: utf-8 (the contract) or gb18030/gbk (Excel on Chinese Windows)",
    )
    importer.set_defaults(run=_db_import)

    retention = commands.add_parser(
        "retention", help="delete or anonymise conversation data older than N days"
    )
    retention.add_argument("--days", type=int, required=True)
    retention.add_argument("--audit-days", type=int, default=365)
    retention.set_defaults(run=_retention)

    review = commands.add_parser(
        "review",
        help="group missed messages into a worksheet; list answers marked not helpful",
    )
    review.add_argument("--out", default="reports/review")
    review.add_argument("--groups", type=int, default=None, help="number of groups")
    review.set_defaults(run=_review)

    report = commands.add_parser(
        "report", help="the operators' console figures for a range of days (China time)"
    )
    report.add_argument("--since", required=True, help="first day, YYYY-MM-DD")
    report.add_argument("--until", default=None, help="last day, YYYY-MM-DD (default today)")
    report.add_argument("--csv", default=None, help="also write one CSV file per figure here")
    report.set_defaults(run=_report)

    codes = commands.add_parser("codes", help="the response code table (POSBOT_RESPONSE_CODES)")
    codes_commands = codes.add_subparsers(dest="codes_command", required=True)
    check = codes_commands.add_parser("check", help="validate the table file")
    check.add_argument("file", nargs="?", help="the file (default: the configured table)")
    check.set_defaults(run=_codes_check)

    serve = commands.add_parser("serve", help="run the action server and the Rasa server")
    serve.add_argument("--model", default="models/posbot.tar.gz")
    serve.add_argument("--shell", action="store_true", help="chat in the terminal")
    serve.add_argument("--port", type=int, default=5005)
    serve.add_argument("--actions-port", type=int, default=5055)
    serve.set_defaults(run=_serve)

    from bot.cli import notify, prod

    prod.add_parser(commands)
    notify.add_parsers(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``posbot`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except SettingError as error:
        print(f"posbot: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except SQLAlchemyError as error:
        print(f"posbot: database error: {error.__class__.__name__}: {error}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
