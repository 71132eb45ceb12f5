"""Fakes of the external services the notification worker talks to: an SMS gateway and WeChat's
customer-service message API, each a small HTTP server on 127.0.0.1 in a thread.

Both record every request with its ``Idempotency-Key`` and deliver a key once (a repeat is
acknowledged, not delivered again), like a gateway that honours the key.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

IDEMPOTENCY_HEADER = "Idempotency-Key"


@dataclass
class Received:
    """One request as the fake saw it."""

    key: str
    body: dict[str, Any]
    headers: dict[str, str]


@dataclass
class FakeReceiver:
    """The shared bookkeeping: requests, delivered messages, failures to simulate."""

    requests: list[Received] = field(default_factory=list)
    delivered: list[Received] = field(default_factory=list)
    # Answer this HTTP status to the next N sends (then succeed); ``down`` answers it forever.
    fail_next: int = 0
    fail_status: int = 503
    down: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def accept(self, key: str, body: dict[str, Any], headers: dict[str, str]) -> int:
        """Records a send; the HTTP status to answer."""
        with self.lock:
            self.requests.append(Received(key, body, headers))
            if self.down:
                return self.fail_status
            if self.fail_next > 0:
                self.fail_next -= 1
                return self.fail_status
            if key not in {item.key for item in self.delivered}:
                self.delivered.append(Received(key, body, headers))
            return 200

    def keys_requested(self) -> list[str]:
        """Every key in request order (repeats included)."""
        with self.lock:
            return [item.key for item in self.requests]


class _Server:
    """A ThreadingHTTPServer serving ``handler`` until :meth:`stop`."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _read_json(handler: BaseHTTPRequestHandler) -> dict[str, Any]:
    length = int(handler.headers.get("Content-Length") or 0)
    raw = handler.rfile.read(length) if length else b"{}"
    try:
        value = json.loads(raw.decode("utf-8"))
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _answer(handler: BaseHTTPRequestHandler, status: int, body: dict[str, Any]) -> None:
    data = json.dumps(body).encode("utf-8")
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


class FakeSmsGateway(FakeReceiver):
    """``POST /sms`` with ``{"to", "text", "idempotency_key"}``."""

    def start(self) -> FakeSmsGateway:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = _read_json(self)
                key = self.headers.get(IDEMPOTENCY_HEADER) or ""
                status = receiver.accept(key, body, dict(self.headers))
                _answer(self, status, {"ok": status == 200})

            def log_message(self, *args: Any) -> None:
                pass

        self.server = _Server(Handler)
        return self

    @property
    def url(self) -> str:
        return self.server.base_url + "/sms"

    def stop(self) -> None:
        self.server.stop()


class FakeWeChatApi(FakeReceiver):
    """``GET /cgi-bin/token`` and ``POST /cgi-bin/message/custom/send`` (errcode 0 when ok)."""

    token_calls: int = 0

    def start(self) -> FakeWeChatApi:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if urlparse(self.path).path != "/cgi-bin/token":
                    _answer(self, 404, {})
                    return
                receiver.token_calls += 1
                _answer(self, 200, {"access_token": "FAKE_TOKEN", "expires_in": 7200})

            def do_POST(self) -> None:
                url = urlparse(self.path)
                token = parse_qs(url.query).get("access_token", [""])[0]
                if url.path != "/cgi-bin/message/custom/send" or token != "FAKE_TOKEN":
                    _answer(self, 200, {"errcode": 40001, "errmsg": "invalid credential"})
                    return
                body = _read_json(self)
                key = self.headers.get(IDEMPOTENCY_HEADER) or ""
                status = receiver.accept(key, body, dict(self.headers))
                if status != 200:
                    _answer(self, 200, {"errcode": 45015, "errmsg": "response out of time limit"})
                    return
                _answer(self, 200, {"errcode": 0, "errmsg": "ok"})

            def log_message(self, *args: Any) -> None:
                pass

        self.server = _Server(Handler)
        return self

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def stop(self) -> None:
        self.server.stop()
