"""Turns case views into replies (the text itself lives in domain.yml)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date, datetime

from rasa_sdk.executor import CollectingDispatcher

from actions.base import DomainDict, response_text
from bot.services.cases import CaseView, TerminalView
from bot.services.rejection import rejection_next_steps
from bot.workdays import format_chinese_date


def _date(value: date | datetime | None) -> str:
    return format_chinese_date(value) if value is not None else "—"


def utter_window(dispatcher: CollectingDispatcher, view: CaseView) -> None:
    """Says when a decision is expected, and whether it is overdue."""
    if view.window is None:
        return
    name = "utter_case_window_estimated" if view.window.estimated else "utter_case_window"
    dispatcher.utter_message(
        response=name,
        window_start=_date(view.window.first_day),
        window_end=_date(view.window.last_day),
    )
    if view.overdue:
        dispatcher.utter_message(
            response="utter_case_overdue", window_end=_date(view.window.last_day)
        )
    else:
        dispatcher.utter_message(response="utter_case_on_time")


def utter_case_status(dispatcher: CollectingDispatcher, view: CaseView) -> None:
    """The full status of one case: status line, window, and what to do next."""
    dispatcher.utter_message(
        response=f"utter_case_status_{view.status}",
        case_id=view.case_id,
        terminal_id=view.terminal_id,
        submitted_on=_date(view.submitted_at),
        updated_on=_date(view.updated_at),
        missing_documents="；".join(view.missing_documents) or "（请联系客服确认）",
        rejection_reason=view.rejection_reason or "（未注明，可转人工查询）",
    )
    if view.is_open:
        utter_window(dispatcher, view)
    elif view.status == "rejected":
        dispatcher.utter_message(response=rejection_next_steps(view.rejection_reason))
    elif view.status == "approved":
        dispatcher.utter_message(response="utter_after_reactivation")


def status_label(domain: DomainDict, status: str) -> str:
    """The Chinese label of a case status."""
    return response_text(domain, f"utter_status_label_{status}", status)


def reason_label(domain: DomainDict, reason: str | None) -> str:
    """The Chinese label of a suspension reason."""
    return response_text(domain, f"utter_reason_label_{reason or 'other'}", reason or "")


def pos_label(domain: DomainDict, pos_type: str | None) -> str:
    """The Chinese label of a kind of terminal."""
    return response_text(domain, f"utter_pos_label_{pos_type}", "POS机") if pos_type else "POS机"


def utter_open_case(dispatcher: CollectingDispatcher, domain: DomainDict, view: CaseView) -> None:
    """Tells the merchant that the terminal already has an open application."""
    dispatcher.utter_message(
        response="utter_open_case_exists",
        terminal_id=view.terminal_id,
        case_id=view.case_id,
        status_label=status_label(domain, view.status),
        submitted_on=_date(view.submitted_at),
    )
    utter_window(dispatcher, view)


def terminal_buttons(domain: DomainDict, terminals: Iterable[TerminalView]) -> list[dict]:
    """One button per terminal, answering with its id."""
    return [
        {
            "title": f"{terminal.terminal_id}（{pos_label(domain, terminal.pos_type)}）",
            "payload": "/inform" + json.dumps({"terminal_id": terminal.terminal_id}),
        }
        for terminal in terminals
    ]


def suspended_on(terminal: TerminalView) -> str:
    """The suspension date of a terminal in Chinese."""
    return _date(terminal.suspended_at)
