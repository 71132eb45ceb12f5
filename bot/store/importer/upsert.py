"""Upsert of validated rows in the caller's transaction: merchants by merchant_id, terminals by
terminal_id, cases by case_id; stored rows updated through the ORM, new ones inserted in bulk."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, TypeVar

from sqlalchemy import insert, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from bot.domain_values import OPEN_CASE_STATUSES
from bot.store.importer.contract import CaseRow, CsvImportError, ImportResult, RowError
from bot.store.models import Case, CaseEvent, Merchant, Terminal

_PRELOAD_CHUNK: Final = 500
_INSERT_CHUNK: Final = 5000
_Model = TypeVar("_Model", Merchant, Terminal, Case)


def _preload(
    session: Session, model: type[_Model], column: InstrumentedAttribute, keys: set[str]
) -> dict[str, _Model]:
    """The stored objects with these keys, by key, loaded in a few queries."""
    found: dict[str, _Model] = {}
    ordered = sorted(keys)
    for start in range(0, len(ordered), _PRELOAD_CHUNK):
        chunk = ordered[start : start + _PRELOAD_CHUNK]
        for item in session.execute(select(model).where(column.in_(chunk))).scalars():
            found[getattr(item, column.key)] = item
    return found


def _assign(target: object, values: dict[str, object]) -> bool:
    """Sets the attributes that differ; returns whether anything changed."""
    changed = False
    for name, value in values.items():
        if getattr(target, name) != value:
            setattr(target, name, value)
            changed = True
    return changed


@dataclass
class _Stored:
    """The stored merchants, terminals and cases the file mentions, by id."""

    merchants: dict[str, Merchant]
    terminals: dict[str, Terminal]
    cases: dict[str, Case]

    @classmethod
    def load(cls, session: Session, rows: Sequence[CaseRow]) -> _Stored:
        """Loads everything the rows refer to."""
        merchant_ids = {row.merchant_id for row in rows}
        terminal_ids = {row.terminal_id for row in rows}
        case_ids = {row.case_id for row in rows if row.case_id}
        return cls(
            merchants=_preload(session, Merchant, Merchant.merchant_id, merchant_ids),
            terminals=_preload(session, Terminal, Terminal.terminal_id, terminal_ids),
            cases=_preload(session, Case, Case.case_id, case_ids),
        )

    def conflicts(self, rows: Sequence[CaseRow]) -> list[RowError]:
        """Rows that contradict the database: a terminal or case owned by someone else."""
        errors: list[RowError] = []
        for row in rows:
            terminal = self.terminals.get(row.terminal_id)
            if terminal is not None and terminal.merchant_id != row.merchant_id:
                errors.append(
                    RowError(
                        row.line,
                        f"terminal_id '{row.terminal_id}' belongs to merchant_id "
                        f"'{terminal.merchant_id}' in the database, not '{row.merchant_id}'",
                    )
                )
            case = self.cases.get(row.case_id) if row.case_id else None
            if case is not None and (case.terminal_id, case.merchant_id) != (
                row.terminal_id,
                row.merchant_id,
            ):
                errors.append(
                    RowError(
                        row.line,
                        f"case_id '{row.case_id}' belongs to terminal_id '{case.terminal_id}' "
                        f"of merchant_id '{case.merchant_id}' in the database, not terminal_id "
                        f"'{row.terminal_id}' of merchant_id '{row.merchant_id}'",
                    )
                )
        return errors


def _second_open_cases(session: Session, rows: Sequence[CaseRow]) -> list[RowError]:
    """Rows that would give a terminal a second open case (one open case per terminal).

    The stored open cases the file does not mention stay open; the file's own rows say how
    its cases end up.
    """
    in_file = {row.case_id for row in rows if row.case_id}
    open_cases: dict[str, list[str]] = defaultdict(list)
    terminal_ids = sorted({row.terminal_id for row in rows})
    for start in range(0, len(terminal_ids), _PRELOAD_CHUNK):
        query = select(Case.terminal_id, Case.case_id).where(
            Case.terminal_id.in_(terminal_ids[start : start + _PRELOAD_CHUNK]),
            Case.status.in_(OPEN_CASE_STATUSES),
        )
        for terminal_id, case_id in session.execute(query):
            if case_id not in in_file:
                open_cases[terminal_id].append(case_id)
    errors: list[RowError] = []
    for row in rows:
        if not row.case_id or row.status not in OPEN_CASE_STATUSES:
            continue
        others = open_cases[row.terminal_id]
        if others:
            errors.append(
                RowError(
                    row.line,
                    f"terminal_id '{row.terminal_id}' already has an open case "
                    f"('{others[0]}'); one open case per terminal: close it first",
                )
            )
        others.append(row.case_id)
    return errors


@dataclass
class _NewRows:
    """Rows to insert, by table; inserted with one multi-row statement each (``executemany``)."""

    merchants: list[dict[str, object]] = field(default_factory=list)
    terminals: list[dict[str, object]] = field(default_factory=list)
    cases: list[dict[str, object]] = field(default_factory=list)
    events: list[dict[str, object]] = field(default_factory=list)

    def insert(self, session: Session) -> None:
        """Inserts in foreign-key order, in the caller's transaction."""
        for model, values in (
            (Merchant, self.merchants),
            (Terminal, self.terminals),
            (Case, self.cases),
            (CaseEvent, self.events),
        ):
            for start in range(0, len(values), _INSERT_CHUNK):
                session.execute(insert(model), values[start : start + _INSERT_CHUNK])


def store_rows(session: Session, rows: Sequence[CaseRow], now: datetime) -> ImportResult:
    """Upserts validated rows; the caller owns the transaction.

    Stored objects are updated through the ORM; new ones are inserted in bulk afterwards, so
    that an export of 10^5 rows takes seconds, not minutes.

    Raises:
        CsvImportError: when a row contradicts the database.
    """
    result = ImportResult(rows=len(rows))
    stored = _Stored.load(session, rows)
    errors = stored.conflicts(rows) + _second_open_cases(session, rows)
    if errors:
        raise CsvImportError(errors)
    new = _NewRows()
    seen_merchants: set[str] = set()
    seen_terminals: set[str] = set()
    for row in rows:
        if row.merchant_id not in seen_merchants:
            seen_merchants.add(row.merchant_id)
            _store_merchant(new, stored, row, result)
        if row.terminal_id not in seen_terminals:
            seen_terminals.add(row.terminal_id)
            _store_terminal(new, stored, row, result)
        if row.case_id and row.status:
            _store_case(new, stored, row, now, result)
    session.flush()
    new.insert(session)
    return result


def _store_merchant(new: _NewRows, stored: _Stored, row: CaseRow, result: ImportResult) -> None:
    """Creates or updates the row's merchant (the file is the source of truth)."""
    values: dict[str, object] = {
        "name": row.merchant_name,
        "registered_phone": row.registered_phone,
    }
    merchant = stored.merchants.get(row.merchant_id)
    if merchant is None:
        new.merchants.append({"merchant_id": row.merchant_id, **values})
        result.merchants_created += 1
    elif _assign(merchant, values):
        result.merchants_updated += 1


def _store_terminal(new: _NewRows, stored: _Stored, row: CaseRow, result: ImportResult) -> None:
    """Creates or updates the row's terminal and its suspension."""
    values: dict[str, object] = {
        "merchant_id": row.merchant_id,
        "pos_type": row.pos_type,
        "suspension_reason": row.suspension_reason,
        "suspended_at": row.suspended_at,
    }
    terminal = stored.terminals.get(row.terminal_id)
    if terminal is None:
        new.terminals.append({"terminal_id": row.terminal_id, **values})
        result.terminals_created += 1
    elif _assign(terminal, values):
        result.terminals_updated += 1


def _store_case(
    new: _NewRows, stored: _Stored, row: CaseRow, now: datetime, result: ImportResult
) -> None:
    """Creates or updates the row's case and records the history events."""
    case_id, status = str(row.case_id), str(row.status)
    values: dict[str, object] = {
        "merchant_id": row.merchant_id,
        "terminal_id": row.terminal_id,
        "suspension_reason": row.suspension_reason,
        "submitted_at": row.submitted_at,
        "updated_at": row.updated_at,
        "rejection_reason": row.rejection_reason,
        "missing_documents": row.missing_documents,
    }
    case = stored.cases.get(case_id)
    if case is None:
        new.cases.append(
            {"case_id": case_id, "status": status, "source": "import", "contact_phone": None}
            | values
        )
        new.events.append(_event(case_id, "imported", f"status {status}", now))
        result.cases_created += 1
        return
    old_status = case.status
    changed = _assign(case, values)
    if old_status != status:
        case.status = status
        changed = True
        new.events.append(_event(case_id, "status_changed", f"{old_status} -> {status}", now))
    if changed:
        result.cases_updated += 1
    else:
        result.cases_unchanged += 1


def _event(case_id: str, kind: str, detail: str, now: datetime) -> dict[str, object]:
    return {"case_id": case_id, "kind": kind, "detail": detail, "occurred_at": now}
