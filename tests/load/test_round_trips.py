"""load.round_trips counts round trips through the bench-net relay and names each request."""

from __future__ import annotations

import socket
import struct
import threading

from bot.runtime import free_port
from load.round_trips import CountingProxy

REDIS_PING = b"*1\r\n$4\r\nPING\r\n"
PG_QUERY = b"Q" + struct.pack("!i", 4 + len(b"SELECT 1\0")) + b"SELECT 1\0"


def _echo_server() -> socket.socket:
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        connection, _ = server.accept()
        with connection:
            while data := connection.recv(1024):
                connection.sendall(data)

    threading.Thread(target=serve, daemon=True).start()
    return server


def test_each_answered_request_is_one_round_trip_named_by_its_command() -> None:
    echo = _echo_server()
    port = free_port()
    proxy = CountingProxy(port, echo.getsockname())
    try:
        with socket.create_connection(("127.0.0.1", port)) as client:
            for request in (REDIS_PING, REDIS_PING, PG_QUERY):
                client.sendall(request)
                assert client.recv(1024) == request
        counts = proxy.snapshot()
        assert counts["round_trips"] == 3
        assert counts["connections"] == 1
        assert (
            counts["bytes_sent"] == counts["bytes_received"] == 2 * len(REDIS_PING) + len(PG_QUERY)
        )
        assert proxy.kinds == {"PING": 2, "SELECT 1": 1}
        proxy.snapshot(reset_kinds=True)
        assert proxy.kinds == {}
    finally:
        proxy.close()
