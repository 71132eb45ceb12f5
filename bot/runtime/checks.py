"""Checks made before anything starts, so an operator's typo stops the start, not a chat."""

from __future__ import annotations


def code_table_problem() -> str | None:
    """Why the response code table cannot be used, or ``None``."""
    from bot.services.response_codes import CodeTableError, load_table, table_path

    try:
        load_table(table_path())
    except CodeTableError as error:
        return f"response code table {error}"
    return None
