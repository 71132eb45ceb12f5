"""Latency of the operators' console with 10^5 conversations (~10^6 events).

Fills a tracker ``events`` table (Rasa's schema) and a case store with bulk inserts (SQLite:
``executemany`` in one transaction; PostgreSQL: ``COPY``), creates the console's index (timed),
then serves ``/ops`` in-process and measures ``GET /ops/api/dashboard`` (every figure) for the
last 30 days and for the whole 90 days, and one CSV export. SQLite always; PostgreSQL when
``--pg-admin-url`` reaches a server (its own database ``posbot_console_bench``, recreated and
dropped). Run it, like `make bench`, under ``flock /tmp/posbot-test.lock``.

    python -m load.bench_console --out reports/bench/console.md
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Final

import aiohttp
import jieba
import sqlalchemy as sa
from rasa.core.channels.channel import register
from rasa.core.tracker_store import SQLTrackerStore
from sanic import Sanic
from sqlalchemy.engine import Engine, make_url

from bot.channels.auth import AgentTokens, OperatorTokens
from bot.channels.ops import OpsConsoleInput
from bot.services.console import ConsoleData, ConsoleService
from bot.store import console as queries
from bot.store.database import CaseStore
from bot.store.models import Case, Merchant, NluMiss, Terminal, Ticket

CHINA: Final = timezone(timedelta(hours=8))
LAST_DAY: Final = date(2026, 11, 29)
DAYS: Final = 90
TOKEN: Final = "bench-operator-token-0123456789"
PG_ADMIN_URL: Final = "postgresql://postgres@127.0.0.1:5432/test"
PG_DATABASE: Final = "posbot_console_bench"
INTENTS: Final = (
    "greet", "ask_suspend_reason", "ask_unsuspend_process", "ask_required_documents",
    "ask_review_time", "check_case_status", "report_error_code", "nlu_fallback",
    "request_human", "thank", "goodbye", "ask_fees", "report_hardware_fault",
)  # fmt: skip
CODES: Final = ("03", "58", "97", "51", "55", "A0", "96")
MISS_TEXTS: Final = (
    "打印机卡纸了",
    "今天天气怎么样",
    "能不能便宜点",
    "机器一直滴滴响",
    "你们老板是谁",
)
REPEATS: Final = 7
EVENT_COLUMNS: Final = ("sender_id", "type_name", "timestamp", "intent_name", "action_name", "data")
CHUNK: Final = 50_000


@dataclass
class Filled:
    """What was written, and how long it took."""

    conversations: int
    events: int
    seconds: float
    index_seconds: float


def _events(conversations: int, seed: int = 14) -> Iterator[tuple[Any, ...]]:
    """~10 events per conversation: user messages with their bot replies and actions."""
    rng = random.Random(seed)
    start = datetime.combine(LAST_DAY - timedelta(days=DAYS - 1), datetime.min.time(), CHINA)
    for number in range(conversations):
        sender = f"bench-{number:06d}"
        ts = start.timestamp() + rng.random() * DAYS * 86400
        for _turn in range(rng.choice((2, 3, 3, 4))):
            intent = rng.choice(INTENTS)
            entities = (
                [{"entity": "response_code", "value": rng.choice(CODES)}]
                if intent == "report_error_code"
                else []
            )
            data = json.dumps(
                {
                    "event": "user",
                    "timestamp": ts,
                    "text": "…",
                    "parse_data": {"intent": {"name": intent}, "entities": entities},
                },
                ensure_ascii=False,
            )
            yield (sender, "user", ts, intent, None, data)
            yield (sender, "action", ts + 0.1, None, "utter_x", '{"event":"action"}')
            yield (sender, "bot", ts + 0.2, None, None, '{"event":"bot","text":"…"}')
            ts += rng.random() * 60


def _chunks(rows: Iterator[tuple[Any, ...]]) -> Iterator[list[tuple[Any, ...]]]:
    chunk: list[tuple[Any, ...]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def fill_events(engine: Engine, conversations: int) -> Filled:
    """Bulk-inserts the events; then the console's index (timed separately)."""
    SQLTrackerStore.SQLEvent.__table__.create(engine, checkfirst=True)
    started = time.perf_counter()
    count = 0
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if engine.dialect.name == "postgresql":
            for chunk in _chunks(_events(conversations)):
                buffer = io.StringIO()
                for row in chunk:
                    buffer.write(
                        "\t".join("\\N" if v is None else str(v).replace("\\", "\\\\") for v in row)
                        + "\n"
                    )
                buffer.seek(0)
                cursor.copy_expert(f"COPY events ({', '.join(EVENT_COLUMNS)}) FROM STDIN", buffer)
                count += len(chunk)
        else:
            sql = f"INSERT INTO events ({', '.join(EVENT_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?)"
            for chunk in _chunks(_events(conversations)):
                cursor.executemany(sql, chunk)
                count += len(chunk)
        raw.commit()
    finally:
        raw.close()
    filled = time.perf_counter() - started
    started = time.perf_counter()
    with engine.connect() as plain:
        # As the console builds it: outside a transaction (CONCURRENTLY on PostgreSQL).
        connection = plain.execution_options(isolation_level="AUTOCOMMIT")
        queries.ensure_event_indexes(connection)
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql("ANALYZE events")
    return Filled(conversations, count, filled, time.perf_counter() - started)


def fill_cases(store: CaseStore, conversations: int, seed: int = 15) -> None:
    """Handoff tickets (10 % of conversations), bot-filed cases (3 %), missed messages (5 %)."""
    rng = random.Random(seed)
    first = datetime.combine(LAST_DAY - timedelta(days=DAYS - 1), datetime.min.time())
    with store.session() as session:
        session.add(
            Merchant(merchant_id="898310058100000", name="压测", registered_phone="13800000000")
        )
        session.flush()
        tickets, terminals, cases, misses = [], [], [], []
        for number in range(conversations):
            at = first + timedelta(seconds=rng.random() * DAYS * 86400)
            if number % 10 == 0:
                reason = rng.choice(
                    ("", "；转人工原因：身份验证失败3次", "；转人工原因：连续两次未能理解")
                )
                sender = f"bench-{number:06d}"
                tickets.append(
                    {"ticket_id": f"TK{number:012d}", "kind": "handoff", "sender_id": sender,
                     "summary": f"身份未验证{reason}", "status": "open", "created_at": at}
                )  # fmt: skip
            if number % 33 == 0:
                terminal = f"{number:08d}"
                terminals.append({"terminal_id": terminal, "merchant_id": "898310058100000"})
                cases.append(
                    {"case_id": f"JC{number:012d}", "merchant_id": "898310058100000",
                     "terminal_id": terminal, "source": "bot", "submitted_at": at, "updated_at": at,
                     "status": rng.choice(("submitted", "under_review", "approved", "rejected")),
                     "rejection_reason": "", "missing_documents": ""}
                )  # fmt: skip
            if number % 20 == 0:
                misses.append(
                    {"sender_id": f"bench-{number:06d}", "text": rng.choice(MISS_TEXTS),
                     "guess": rng.choice(INTENTS), "confidence": 0.2, "recorded_at": at}
                )  # fmt: skip
        session.execute(sa.insert(Ticket), tickets)
        session.execute(sa.insert(Terminal), terminals)
        session.execute(sa.insert(Case), cases)
        session.execute(sa.insert(NluMiss), misses)


async def measure(data: ConsoleData) -> dict[str, list[float]]:
    """Milliseconds of each request kind, REPEATS times, through a real Sanic server."""
    Sanic.test_mode = True
    app = Sanic(f"console_bench_{uuid.uuid4().hex}", configure_logging=False)
    channel = OpsConsoleInput(
        OperatorTokens({"bench": TOKEN}), AgentTokens({}), ConsoleService(data)
    )
    register([channel], app, route="/webhooks/")
    server = await app.create_server(
        host="127.0.0.1", port=0, return_asyncio_server=True, access_log=False
    )
    await server.startup()
    port = server.server.sockets[0].getsockname()[1]
    base = f"http://127.0.0.1:{port}/ops/api"
    last30 = (LAST_DAY - timedelta(days=29)).isoformat()
    whole = (LAST_DAY - timedelta(days=DAYS - 1)).isoformat()
    until = LAST_DAY.isoformat()
    requests = {
        "dashboard, last 30 days": f"{base}/dashboard?since={last30}&until={until}",
        f"dashboard, all {DAYS} days": f"{base}/dashboard?since={whole}&until={until}",
        f"CSV export (top intents, {DAYS} days)": (
            f"{base}/figures/top_intents.csv?since={whole}&until={until}"
        ),
    }
    timings: dict[str, list[float]] = {name: [] for name in requests}
    headers = {"Authorization": f"Bearer {TOKEN}"}
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
            for name, url in requests.items():
                for _ in range(REPEATS):
                    started = time.perf_counter()
                    async with session.get(url, headers=headers) as reply:
                        await reply.read()
                        if reply.status != 200:
                            raise RuntimeError(f"{name}: HTTP {reply.status}")
                    timings[name].append((time.perf_counter() - started) * 1000)
    finally:
        server.close()
        await server.wait_closed()
    return timings


def run_backend(label: str, events_url: str, case_url: str, conversations: int) -> list[str]:
    """Fills one backend, measures, and returns the report's lines for it."""
    engine = sa.create_engine(events_url, future=True)
    store = CaseStore(case_url)
    store.create_schema()
    filled = fill_events(engine, conversations)
    fill_cases(store, conversations)
    data = ConsoleData(store, engine)
    # The Rasa server has jieba loaded by the NLU pipeline (JiebaTokenizer) before anyone
    # opens the console; the clustering of missed messages uses the same jieba.
    jieba.initialize()
    timings = asyncio.run(measure(data))
    lines = [
        f"## {label}",
        "",
        f"{filled.conversations} conversations, {filled.events} events over {DAYS} days: "
        f"filled in {filled.seconds:.1f} s, console index built in {filled.index_seconds:.1f} s.",
        "",
        f"| request | first (ms) | median of {REPEATS} (ms) | max (ms) |",
        "|---|---:|---:|---:|",
    ]
    for name, values in timings.items():
        lines.append(
            f"| {name} | {values[0]:.0f} | {statistics.median(values):.0f} | {max(values):.0f} |"
        )
    engine.dispose()
    store.dispose()
    return [*lines, ""]


def _postgres(admin_url: str, statement: str) -> None:
    engine = sa.create_engine(admin_url, future=True, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql(statement)
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("reports/bench/console.md"))
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--pg-admin-url", default=PG_ADMIN_URL, help="'' to skip PostgreSQL")
    args = parser.parse_args(argv)
    sections = [
        "# Operators' console latency",
        "",
        "`make bench` (`python -m load.bench_console`): `GET /ops/api/dashboard` computes every "
        "figure of the dashboard (SQL over the events index and the case store, SVG charts) "
        "through a real HTTP server on this machine.",
        "",
    ]
    with tempfile.TemporaryDirectory(prefix="console-bench-") as folder:
        sections += run_backend(
            "SQLite",
            f"sqlite:///{Path(folder) / 'tracker.db'}",
            f"sqlite:///{Path(folder) / 'cases.db'}",
            args.conversations,
        )
    if args.pg_admin_url:
        try:
            _postgres(args.pg_admin_url, f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)')
            _postgres(args.pg_admin_url, f'CREATE DATABASE "{PG_DATABASE}"')
        except sa.exc.SQLAlchemyError as error:
            sections += ["## PostgreSQL", "", f"skipped: {type(error).__name__}", ""]
        else:
            url = make_url(args.pg_admin_url).set(database=PG_DATABASE)
            rendered = url.render_as_string(hide_password=False)
            try:
                sections += run_backend("PostgreSQL", rendered, rendered, args.conversations)
            finally:
                _postgres(
                    args.pg_admin_url, f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)'
                )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(sections), encoding="utf-8")
    print("\n".join(sections))
    return 0


if __name__ == "__main__":
    sys.exit(main())
