"""The SQL of the tracker store on Rasa's ``events`` table: one statement, one round trip each.

Plain SQL that PostgreSQL and SQLite both run, sent as it is (``exec_driver_sql``: no
compilation per call). The connection is in autocommit mode: a single statement is its own
transaction, so no ``BEGIN``/``COMMIT`` round trips. A conversation's latest session is the rows
from its last ``session_started`` row on (by id; every row when there is none), which is what
Rasa's own query selects by timestamp.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Final

from sqlalchemy.engine import Connection

from bot.store.tracker_cache import SESSION_STARTED, SessionEntry, StoredRow

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


def placeholder(connection: Connection) -> str:
    """The DBAPI's positional placeholder: ``%s`` (psycopg2) or ``?`` (sqlite3)."""
    return "?" if connection.dialect.paramstyle == "qmark" else "%s"


@lru_cache(maxsize=64)
def _sql(template: str, p: str) -> str:
    return template.replace("{p}", p)


def _run(connection: Connection, template: str, *params: Any) -> Any:
    return connection.exec_driver_sql(_sql(template, placeholder(connection)), params)


def load_session(connection: Connection, sender_id: str) -> list[StoredRow]:
    """The rows of the latest session of ``sender_id``, ordered by id."""
    rows = _run(connection, _LOAD_SESSION, sender_id, sender_id)
    return [StoredRow(row[0], row[1], row[2]) for row in rows]


def changes_since(
    connection: Connection, sender_id: str, entry: SessionEntry
) -> tuple[int, list[StoredRow]]:
    """How many of ``entry``'s rows are still stored, and the rows written after it."""
    result = _run(
        connection,
        _CHANGES,
        sender_id,
        entry.first_id,
        entry.last_id,
        sender_id,
        entry.last_id,
    ).all()
    still_stored = int(result[0][0])
    return still_stored, [StoredRow(row[1], row[2], row[3]) for row in result if row[1] is not None]


def count_session(connection: Connection, sender_id: str) -> int:
    """Number of stored rows of the latest session of ``sender_id``."""
    return int(_run(connection, _COUNT_SESSION, sender_id, sender_id).scalar_one())


def all_events(connection: Connection, sender_id: str) -> list[str]:
    """The serialised events of every session of ``sender_id``, ordered by id."""
    return [row[0] for row in _run(connection, _ALL_EVENTS, sender_id)]


def sender_ids(connection: Connection) -> list[str]:
    """Every sender with stored events."""
    return [row[0] for row in _run(connection, _KEYS)]


@lru_cache(maxsize=256)
def _insert_sql(rows: int, p: str, conditional: bool) -> str:
    # The timestamp is cast: a VALUES list takes its column types from its values, and a NULL
    # alone would make the column text.
    row = f"({p}, {p}, CAST({p} AS DOUBLE PRECISION), {p}, {p}, {p})"
    values = ", ".join([row] * rows)
    condition = (
        f" WHERE NOT EXISTS (SELECT 1 FROM events WHERE sender_id = {p} AND id > {p})"
        if conditional
        else ""
    )
    return (
        f"INSERT INTO events ({', '.join(COLUMNS)}) SELECT * FROM (VALUES {values}) AS v"
        f"{condition} RETURNING id"
    )


def append_rows(
    connection: Connection, sender_id: str, after_id: int, rows: Sequence[tuple[Any, ...]]
) -> list[int] | None:
    """Appends ``rows`` (values in ``COLUMNS`` order) of ``sender_id`` with one statement,
    unless rows of that sender were stored after ``after_id`` (the caller's view is stale).

    Returns:
        The new rows' ids in order, or None when nothing was written because of newer rows.
        More than ``INSERT_CHUNK`` rows take one statement per chunk in one transaction.
    """
    if not rows:
        return []
    p = placeholder(connection)
    chunks = [rows[i : i + INSERT_CHUNK] for i in range(0, len(rows), INSERT_CHUNK)]
    ids: list[int] = []
    if len(chunks) > 1:
        connection.exec_driver_sql("BEGIN")
    try:
        for number, chunk in enumerate(chunks):
            params = tuple(value for row in chunk for value in row)
            if number == 0:
                params += (sender_id, after_id)
            sql = _insert_sql(len(chunk), p, number == 0)
            written = sorted(row[0] for row in connection.exec_driver_sql(sql, params))
            if not written:
                break
            ids.extend(written)
    except BaseException:
        if len(chunks) > 1:
            connection.exec_driver_sql("ROLLBACK")
        raise
    if len(chunks) > 1:
        connection.exec_driver_sql("COMMIT" if ids else "ROLLBACK")
    return ids or None


def insert_rows(connection: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Appends ``rows`` whatever is stored (Rasa's way, after counting what is)."""
    p = placeholder(connection)
    several = len(rows) > INSERT_CHUNK
    if several:
        connection.exec_driver_sql("BEGIN")
    try:
        for start in range(0, len(rows), INSERT_CHUNK):
            chunk = rows[start : start + INSERT_CHUNK]
            params = tuple(value for row in chunk for value in row)
            connection.exec_driver_sql(_insert_sql(len(chunk), p, False), params).all()
    except BaseException:
        if several:
            connection.exec_driver_sql("ROLLBACK")
        raise
    if several:
        connection.exec_driver_sql("COMMIT")


def create_indexes(connection: Connection) -> None:
    """The index on (sender_id, id) that the session and change queries read.

    SQLite's index on ``sender_id`` already holds the row id, so only other databases need it.
    """
    if connection.dialect.name != "sqlite":
        connection.exec_driver_sql(_SENDER_ID_INDEX)
