"""Masks personal data in every log line of the process (Rasa server and action server).

:func:`install` puts :func:`bot.redaction.mask_pii` in front of every handler:

- a log record factory redacts the message (after ``%`` formatting), the traceback and the
  stack of every record created by any logger (Rasa's DEBUG lines with the user's text, the
  JSON lines of Rasa's structlog, sanic's error log with uncaught exceptions, asyncio), whatever
  handlers Rasa or sanic configure later;
- a filter on ``sanic.access`` also redacts the ``extra`` fields (the request line);
- uncaught exceptions of the main thread and of other threads are printed redacted;
- Python warnings are logged (``logging.captureWarnings``), so they are redacted too.

JSON ``\\uXXXX`` escapes and URL ``%XX`` escapes are decoded before matching, so escaped text
cannot slip through. A record that cannot be redacted is withheld rather than written. It is
installed on import of ``bot.channels`` (Rasa server) and ``actions`` (action server).
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import traceback
from types import TracebackType
from typing import Any, Final
from urllib.parse import unquote

from bot.redaction import contains_pii, mask_pii

WITHHELD: Final = "[log line withheld: personal data could not be redacted]"
EXTRA_LOGGERS: Final = ("sanic.access",)
_MARK: Final = "_pii_redacted"
_STANDARD_ATTRIBUTES: Final = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", (), None)).keys() | {"message", "asctime", _MARK}
)
_UNICODE_ESCAPE: Final = re.compile(r"\\u([0-9a-fA-F]{4})")
_PERCENT_ESCAPE: Final = re.compile(r"%[0-9a-fA-F]{2}")

_install_lock = threading.Lock()
_installed = False


def redact_log_text(text: str) -> str:
    """``text`` with personal data masked, looking through JSON and URL escapes."""
    decoded = _UNICODE_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
    if _PERCENT_ESCAPE.search(decoded):
        decoded = unquote(decoded)
    if decoded != text and contains_pii(decoded):
        return mask_pii(decoded)
    return mask_pii(text)


def redact_record(record: logging.LogRecord) -> None:
    """Masks the message, traceback, stack and extra fields of ``record`` in place."""
    if not getattr(record, _MARK, False):
        setattr(record, _MARK, True)
        message = record.getMessage()
        masked = redact_log_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact_log_text(text)
        if record.stack_info:
            record.stack_info = redact_log_text(record.stack_info)
    for key, value in list(vars(record).items()):
        if key not in _STANDARD_ATTRIBUTES and isinstance(value, str):
            setattr(record, key, redact_log_text(value))


def _redact_or_withhold(record: logging.LogRecord) -> None:
    try:
        redact_record(record)
    except Exception:  # fail closed: never write what could not be checked
        record.msg, record.args = WITHHELD, None
        record.exc_info, record.exc_text, record.stack_info = None, None, None


class RedactingFilter(logging.Filter):
    """A filter (for loggers or handlers) that masks personal data and lets the record pass."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redacts ``record``; always keeps it."""
        _redact_or_withhold(record)
        return True


def print_redacted_exception(
    kind: type[BaseException], error: BaseException, trace: TracebackType | None
) -> None:
    """``sys.excepthook``: prints the traceback with personal data masked."""
    text = "".join(traceback.format_exception(kind, error, trace))
    try:
        text = redact_log_text(text)
    except Exception:  # fail closed
        text = f"{kind.__name__}: {WITHHELD}\n"
    sys.stderr.write(text)


def thread_exception_hook(args: Any) -> None:
    """``threading.excepthook``: prints the thread's traceback with personal data masked."""
    if args.exc_type is SystemExit:
        return
    thread = getattr(args.thread, "name", "?")
    sys.stderr.write(f"Exception in thread {thread}:\n")
    print_redacted_exception(args.exc_type, args.exc_value, args.exc_traceback)


def install() -> None:
    """Redacts every log record and uncaught exception of this process (idempotent)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            _redact_or_withhold(record)
            return record

        logging.setLogRecordFactory(factory)
        for name in EXTRA_LOGGERS:
            logging.getLogger(name).addFilter(RedactingFilter())
        sys.excepthook = print_redacted_exception
        threading.excepthook = thread_exception_hook
        # Python warnings (which can quote a value) become records of "py.warnings", redacted
        # like any other, instead of being printed to stderr as they are.
        logging.captureWarnings(True)
        _installed = True
