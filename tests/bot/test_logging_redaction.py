"""Log redaction: every record of the process, whatever handler writes it."""

from __future__ import annotations

import io
import json
import logging
import sys
import threading
from collections.abc import Iterator

import pytest

from bot.logging_redaction import (
    RedactingFilter,
    install,
    print_redacted_exception,
    redact_log_text,
    thread_exception_hook,
)

PHONE = "13812345678"
CARD = "6222021234567890128"
ID_NUMBER = "11010519491231002X"


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """A handler added after the redaction was installed, as Rasa and sanic do."""
    install()
    output = io.StringIO()
    handler = logging.StreamHandler(output)
    handler.setFormatter(
        logging.Formatter("%(name)s %(message)s %(request)s", defaults={"request": ""})
    )
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield output
    root.removeHandler(handler)
    root.setLevel(previous_level)


def test_messages_and_arguments_are_masked(log_output):
    logging.getLogger("rasa.core.processor").debug(
        "Received user message '%s' with intent '%s'", f"手机{PHONE} 密码是654321", "inform"
    )
    logging.getLogger("rasa_sdk.executor").info(
        f"slot phone_number: {PHONE}, merchant 898310058121234"
    )
    text = log_output.getvalue()
    assert PHONE not in text and "654321" not in text
    assert "138****5678" in text and "密码是******" in text
    assert "898310058121234" in text


def test_json_escaped_and_url_encoded_text_is_masked(log_output):
    logging.getLogger("rasa.core.processor").debug(
        json.dumps({"event": "user", "text": f"我的密码是abc123 卡号{CARD}"})
    )
    logging.getLogger("sanic.access").info(
        "", extra={"request": "GET /faq?q=%E5%AF%86%E7%A0%81%E6%98%AF778899"}
    )
    text = log_output.getvalue()
    assert "abc123" not in text and CARD not in text and "778899" not in text


def test_tracebacks_of_uncaught_errors_are_masked(log_output):
    try:
        raise ValueError(f"cannot parse {ID_NUMBER}")
    except ValueError:
        logging.getLogger("sanic.error").exception("Exception occurred while handling uri")
    text = log_output.getvalue()
    assert "ValueError" in text and ID_NUMBER not in text and "110***********002X" in text


def test_uncaught_exceptions_in_threads_are_printed_masked(monkeypatch):
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    # pytest swaps threading.excepthook around each test; install() sets these two.
    monkeypatch.setattr(threading, "excepthook", thread_exception_hook)

    def crash() -> None:
        raise RuntimeError(f"card {CARD}")

    thread = threading.Thread(target=crash, name="worker")
    thread.start()
    thread.join()
    try:
        raise KeyError(PHONE)
    except KeyError as error:
        print_redacted_exception(KeyError, error, error.__traceback__)
    assert "Exception in thread worker" in err.getvalue() and "RuntimeError" in err.getvalue()
    assert "KeyError: '138****5678'" in err.getvalue()
    assert CARD not in err.getvalue() and PHONE not in err.getvalue()


def test_filter_redacts_extra_fields_of_a_record():
    record = logging.LogRecord("sanic.access", logging.INFO, "", 0, "", (), None)
    record.request = f"GET /agent/conversations?phone={PHONE}"
    assert RedactingFilter().filter(record) is True
    assert record.request == "GET /agent/conversations?phone=138****5678"


def test_plain_text_is_unchanged():
    line = "Starting Rasa server on http://0.0.0.0:5005 at 2026-11-26 10:00:00, 3 workers"
    assert redact_log_text(line) == line


def test_install_is_idempotent_and_sets_the_exception_hook():
    install()
    factory = logging.getLogRecordFactory()
    install()
    assert logging.getLogRecordFactory() is factory
    assert sys.excepthook is print_redacted_exception
