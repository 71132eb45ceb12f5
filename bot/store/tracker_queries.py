"""The SQL of the tracker store on Rasa's ``events`` table: one statement, one round trip each.

Plain SQL that PostgreSQL and SQLite both run. Each query is written once, without I/O: a
generator that yields the :class:`Statement` s to send and is sent back their rows
(``Query``), so the same query runs on a SQLAlchemy connection in a worker thread
(:func:`run_on_connection`: SQLite, or PostgreSQL through psycopg2) and on an asyncpg
connection on the event loop (:mod:`bot.store.tracker_pg`). Statements are sent as they are
(no compilation per call), their ``{p}`` placeholders rendered once per driver's style. The
connection is in autocommit mode: a single statement is its own transaction, so no
``BEGIN``/``COMMIT`` round trips. A conversation's latest session is the rows from its last
``session_started`` row on (by id; every row when there is none), which is what Rasa's own
query selects by timestamp.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final, TypeVar

from sqlalchemy.engine import Connection

from bot.store.tracker_cache import SESSION_STARTED, SessionEntry, StoredRow

T = TypeVar("T")
#: Rows a statement returned (none for ``BEGIN`` and the like).
Rows = Sequence[Sequence[Any]]
#: A query: yields the statements to run, is sent each one's rows, returns its result.
Query = Generator["Statement", Rows, T]

#: Placeholder styles: sqlite3's ``?``, psycopg2's ``%s``, asyncpg's ``$1``, ``$2``…
QMARK: Final = "qmark"
FORMAT: Final = "format"
NUMERIC_DOLLAR: Final = "numeric_dollar"
_PLACEHOLDER: Final = re.compile(r"\{p\}")

COLUMNS: Final = ("sender_id", "type_name", "timestamp", "intent_name", "action_name", "data")
# Rows per INSERT statement (SQLite allows 32766 parameters per statement).
INSERT_CHUNK: Final = 1000
_SESSION_START: Final = (
    "SELECT COALESCE(MAX(id), 0) FROM events WHERE sender_id = {p} AND type_name = "
    f"'{SESSION_STARTED}'"
)
_LOAD_SESSION: Final = (
    "SELECT id, type_name, data FROM events WHERE sender_id = {p} AND id >= ("
    f"{_SESSION_START}) ORDER BY id"
)
_COUNT_SESSION: Final = (
    f"SELECT COUNT(*) FROM events WHERE sender_id = {{p}} AND id >= ({_SESSION_START})"
)
# Always one row at least: the count of the entry's rows still stored, then the newer rows.
_CHANGES: Final = (
    "SELECT c.n, e.id, e.type_name, e.data FROM (SELECT COUNT(*) AS n FROM events "
    "WHERE sender_id = {p} AND id >= {p} AND id <= {p}) AS c "
    "LEFT OUTER JOIN events AS e ON e.sender_id = {p} AND e.id > {p} ORDER BY e.id"
)
_ALL_EVENTS: Final = "SELECT data FROM events WHERE sender_id = {p} ORDER BY id"
_KEYS: Final = "SELECT DISTINCT sender_id FROM events"
_SENDER_ID_INDEX: Final = (
    "CREATE INDEX IF NOT EXISTS ix_events_sender_id_id ON events (sender_id, id)"
)
_BEGIN: Final = "BEGIN"
_COMMIT: Final = "COMMIT"
_ROLLBACK: Final = "ROLLBACK"


@dataclass(frozen=True)
class Statement:
    """One statement of a query: SQL with ``{p}`` placeholders, and their values in order."""

    template: str
    params: tuple[Any, ...] = ()


def placeholder(connection: Connection) -> str:
    """The DBAPI's positional placeholder: ``%s`` (psycopg2) or ``?`` (sqlite3)."""
    return "?" if connection.dialect.paramstyle == "qmark" else "%s"


@lru_cache(maxsize=256)
def render(template: str, style: str) -> str:
    """``template`` with its ``{p}`` placeholders in the driver's ``style``."""
    if style == NUMERIC_DOLLAR:
        numbers = iter(range(1, template.count("{p}") + 1))
        return _PLACEHOLDER.sub(lambda _match: f"${next(numbers)}", template)
    return template.replace("{p}", "?" if style == QMARK else "%s")


def resume(query: Query[T], reply: Any) -> tuple[Statement | None, T | None]:
    """Gives ``query`` its last statement's ``reply`` (the rows, or the exception it raised;
    None to start): its next statement, or None and its result when it is done."""
    try:
        if isinstance(reply, BaseException):
            return query.throw(reply), None
        return query.send(reply), None
    except StopIteration as done:
        return None, done.value


def run_on_connection(connection: Connection, query: Query[T]) -> T:
    """Runs ``query`` on a SQLAlchemy connection (sqlite3 or psycopg2); returns its result.

    A statement's error is thrown into the query (which may roll back) and then raised.
    """
    style = QMARK if connection.dialect.paramstyle == "qmark" else FORMAT
    statement, result = resume(query, None)
    while statement is not None:
        reply: Any
        try:
            sent = connection.exec_driver_sql(render(statement.template, style), statement.params)
            reply = sent.all() if sent.returns_rows else []
        except BaseException as error:  # the query may roll back; then it is raised
            reply = error
        statement, result = resume(query, reply)
    return result  # type: ignore[return-value]


def load_session(sender_id: str) -> Query[list[StoredRow]]:
    """The rows of the latest session of ``sender_id``, ordered by id."""
    rows = yield Statement(_LOAD_SESSION, (sender_id, sender_id))
    return [StoredRow(row[0], row[1], row[2]) for row in rows]


def changes_since(sender_id: str, entry: SessionEntry) -> Query[tuple[int, list[StoredRow]]]:
    """How many of ``entry``'s rows are still stored, and the rows written after it."""
    rows = yield Statement(
        _CHANGES, (sender_id, entry.first_id, entry.last_id, sender_id, entry.last_id)
    )
    still_stored = int(rows[0][0])
    return still_stored, [StoredRow(row[1], row[2], row[3]) for row in rows if row[1] is not None]


def count_session(sender_id: str) -> Query[int]:
    """Number of stored rows of the latest session of ``sender_id``."""
    rows = yield Statement(_COUNT_SESSION, (sender_id, sender_id))
    return int(rows[0][0])


def all_events(sender_id: str) -> Query[list[str]]:
    """The serialised events of every session of ``sender_id``, ordered by id."""
    rows = yield Statement(_ALL_EVENTS, (sender_id,))
    return [row[0] for row in rows]


def sender_ids() -> Query[list[str]]:
    """Every sender with stored events."""
    rows = yield Statement(_KEYS)
    return [row[0] for row in rows]


@lru_cache(maxsize=256)
def _insert_sql(rows: int, conditional: bool) -> str:
    # The timestamp is cast: a VALUES list takes its column types from its values, and a NULL
    # alone would make the column text.
    row = "({p}, {p}, CAST({p} AS DOUBLE PRECISION), {p}, {p}, {p})"
    values = ", ".join([row] * rows)
    condition = (
        " WHERE NOT EXISTS (SELECT 1 FROM events WHERE sender_id = {p} AND id > {p})"
        if conditional
        else ""
    )
    return (
        f"INSERT INTO events ({', '.join(COLUMNS)}) SELECT * FROM (VALUES {values}) AS v"
        f"{condition} RETURNING id"
    )


def _chunks(rows: Sequence[tuple[Any, ...]]) -> list[Sequence[tuple[Any, ...]]]:
    return [rows[i : i + INSERT_CHUNK] for i in range(0, len(rows), INSERT_CHUNK)]


def append_rows(
    sender_id: str, after_id: int, rows: Sequence[tuple[Any, ...]]
) -> Query[list[int] | None]:
    """Appends ``rows`` (values in ``COLUMNS`` order) of ``sender_id`` with one statement,
    unless rows of that sender were stored after ``after_id`` (the caller's view is stale).

    Returns:
        The new rows' ids in order, or None when nothing was written because of newer rows.
        More than ``INSERT_CHUNK`` rows take one statement per chunk in one transaction.
    """
    if not rows:
        return []
    chunks = _chunks(rows)
    ids: list[int] = []
    if len(chunks) > 1:
        yield Statement(_BEGIN)
    try:
        for number, chunk in enumerate(chunks):
            params = tuple(value for row in chunk for value in row)
            if number == 0:
                params += (sender_id, after_id)
            written = yield Statement(_insert_sql(len(chunk), number == 0), params)
            if not written:
                break
            ids.extend(sorted(row[0] for row in written))
    except BaseException:
        if len(chunks) > 1:
            yield Statement(_ROLLBACK)
        raise
    if len(chunks) > 1:
        yield Statement(_COMMIT if ids else _ROLLBACK)
    return ids or None


def insert_rows(rows: Sequence[tuple[Any, ...]]) -> Query[None]:
    """Appends ``rows`` whatever is stored (Rasa's way, after counting what is)."""
    chunks = _chunks(rows)
    if len(chunks) > 1:
        yield Statement(_BEGIN)
    try:
        for chunk in chunks:
            params = tuple(value for row in chunk for value in row)
            yield Statement(_insert_sql(len(chunk), False), params)
    except BaseException:
        if len(chunks) > 1:
            yield Statement(_ROLLBACK)
        raise
    if len(chunks) > 1:
        yield Statement(_COMMIT)


def create_indexes(connection: Connection) -> None:
    """The index on (sender_id, id) that the session and change queries read.

    SQLite's index on ``sender_id`` already holds the row id, so only other databases need it.
    """
    if connection.dialect.name != "sqlite":
        connection.exec_driver_sql(_SENDER_ID_INDEX)
