"""A TCP relay in front of a server: counts request/response exchanges, can add latency.

Runs inside the server's namespace: it listens on the host's address and relays to the server
on the namespace's loopback, so every connection from another host passes through it.

Counting is exact for request/response protocols (PostgreSQL's, Redis's, HTTP/1.1): a round
trip is a reply that follows client data, i.e. each time the client had to wait. New
connections are counted apart (their TCP handshake is one more round trip).

Latency (when the kernel has no ``tc netem``): each direction is held for half the round
trip, and a connection's first request for one more round trip (the handshake the relay
accepted at once), so the server sees a request when it would have over a real link.

SIGHUP: re-read the control file (``{"one_way_ms": x, "seq": n}``) and write the counters
with that ``seq`` to the stats file. SIGTERM: stop.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import queue
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Final

from bot.json_values import write_json

CHUNK: Final = 65536
BACKLOG: Final = 512
HANDSHAKE_ROUND_TRIPS: Final = 1.0
_CLOSE: Final = b""


def due_at(read_at: float, one_way: float, accepted_at: float, first: bool) -> float:
    """When a chunk read at ``read_at`` is delivered (seconds, same clock).

    The first chunk a client sends also waits for the handshake a real link would have
    cost: SYN and SYN-ACK, one round trip after the connection began.
    """
    due = read_at + one_way
    if first:
        due = max(due, accepted_at + HANDSHAKE_ROUND_TRIPS * 2 * one_way + one_way)
    return due


@dataclass
class Counters:
    """What passed through one listener."""

    connections: int = 0
    round_trips: int = 0
    bytes_up: int = 0
    bytes_down: int = 0


class Exchange:
    """Round-trip state of one connection: a reply after client data is one round trip."""

    def __init__(
        self,
        counters: Sequence[Counters],
        lock: threading.Lock,
        on_request: Callable[[bytes], None] | None = None,
    ) -> None:
        self._counters = counters  # the listener's and its client host's
        self._lock = lock
        self._on_request = on_request  # sees the first chunk of each request
        self._waiting = False

    def client_data(self, data: bytes) -> None:
        """Client data read: the first chunk of a request goes to ``on_request`` too."""
        if self._on_request is not None and not self._waiting:
            self._on_request(data)
        self.client_sent(len(data))

    def server_data(self, data: bytes) -> None:
        """Server data read (see :meth:`server_sent`)."""
        self.server_sent(len(data))

    def client_sent(self, size: int) -> None:
        """Client data read (a request, or part of one)."""
        self._waiting = True
        with self._lock:
            for counters in self._counters:
                counters.bytes_up += size

    def server_sent(self, size: int) -> None:
        """Server data read: the first after client data ends a round trip."""
        with self._lock:
            for counters in self._counters:
                counters.bytes_down += size
                if self._waiting:
                    counters.round_trips += 1
        self._waiting = False


class Relay:
    """One listener and its connections."""

    def __init__(
        self,
        name: str,
        listen: tuple[str, int],
        target: tuple[str, int],
        on_request: Callable[[bytes], None] | None = None,
    ) -> None:
        self.name = name
        self.on_request = on_request  # called with the first chunk of every request
        self.listen = listen
        self.target = target
        self.counters = Counters()
        self.clients: dict[str, Counters] = {}  # by client address
        self.lock = threading.Lock()
        self.one_way = 0.0  # seconds; read by every connection at each chunk

    def bind(self) -> socket.socket:
        """The listening socket (bound before the relay reports itself ready)."""
        return socket.create_server(self.listen, backlog=BACKLOG)

    def serve(self, server: socket.socket) -> None:
        """Accepts until ``server`` is closed (daemon thread)."""
        while True:
            try:
                client, peer = server.accept()
            except OSError:
                return
            accepted_at = time.monotonic()
            with self.lock:
                per_client = self.clients.setdefault(peer[0], Counters())
                for counters in (self.counters, per_client):
                    counters.connections += 1
            threading.Thread(
                target=self._connect, args=(client, accepted_at, per_client), daemon=True
            ).start()

    def _connect(self, client: socket.socket, accepted_at: float, per_client: Counters) -> None:
        try:
            upstream = socket.create_connection(self.target, timeout=10)
        except OSError:
            client.close()
            return
        upstream.settimeout(None)
        for sock in (client, upstream):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        exchange = Exchange((self.counters, per_client), self.lock, self.on_request)
        done = threading.Barrier(4, action=lambda: _close(client, upstream))
        up: queue.SimpleQueue = queue.SimpleQueue()
        down: queue.SimpleQueue = queue.SimpleQueue()
        threads = (
            (self._read, (client, up, exchange.client_data, accepted_at, done)),
            (self._write, (upstream, up, done)),
            (self._read, (upstream, down, exchange.server_data, None, done)),
            (self._write, (client, down, done)),
        )
        for target, args in threads:
            threading.Thread(target=target, args=args, daemon=True).start()

    def _read(
        self,
        source: socket.socket,
        sink: queue.SimpleQueue,
        count: Callable[[bytes], None],
        accepted_at: float | None,
        done: threading.Barrier,
    ) -> None:
        first = accepted_at is not None
        try:
            while True:
                data = source.recv(CHUNK)
                now = time.monotonic()
                if not data:
                    break
                count(data)
                due = due_at(now, self.one_way, accepted_at or now, first)
                first = False
                sink.put((due, data))
        except OSError:
            pass
        sink.put((0.0, _CLOSE))
        _wait(done)

    @staticmethod
    def _write(target: socket.socket, source: queue.SimpleQueue, done: threading.Barrier) -> None:
        try:
            while True:
                due, data = source.get()
                if data == _CLOSE:
                    target.shutdown(socket.SHUT_WR)
                    break
                pause = due - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                target.sendall(data)
        except OSError:
            pass
        _wait(done)


def _wait(barrier: threading.Barrier) -> None:
    with contextlib.suppress(threading.BrokenBarrierError):
        barrier.wait(timeout=3600)


def _close(*sockets: socket.socket) -> None:
    for sock in sockets:
        with contextlib.suppress(OSError):
            sock.close()


def parse_link(text: str) -> tuple[str, tuple[str, int], tuple[str, int]]:
    """``NAME,LISTEN_ADDRESS,PORT,TARGET_PORT`` (the target on the loopback)."""
    name, address, port, target_port = text.split(",")
    return name, (address, int(port)), ("127.0.0.1", int(target_port))


def main(argv: Sequence[str] | None = None) -> int:
    """Command line (started by :mod:`bot.quality.netsim.run` inside a namespace)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--link", action="append", required=True, type=parse_link)
    parser.add_argument("--control", type=Path, required=True)
    parser.add_argument("--stats", type=Path, required=True)
    args = parser.parse_args(argv)
    relays = [Relay(*link) for link in args.link]

    def refresh(_signum: int = 0, _frame: object = None) -> None:
        control = json.loads(args.control.read_text(encoding="utf-8"))
        for relay in relays:
            relay.one_way = float(control["one_way_ms"]) / 1000
        stats, clients = {}, {}
        for relay in relays:
            with relay.lock:
                stats[relay.name] = asdict(relay.counters)
                clients[relay.name] = {ip: asdict(c) for ip, c in relay.clients.items()}
        write_json(args.stats, {"seq": control["seq"], "relays": stats, "clients": clients})

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGHUP, refresh)
    for relay in relays:
        threading.Thread(target=relay.serve, args=(relay.bind(),), daemon=True).start()
    refresh()
    while not stop.wait(1):
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
