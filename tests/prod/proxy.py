"""A TCP proxy the fault tests control: forward, or cut (every connection reset at once)."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading

_LINGER_RESET = struct.pack("ii", 1, 0)
_CHUNK = 65536


def _reset(sock: socket.socket) -> None:
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
        sock.close()
    except OSError:
        pass


class TcpProxy:
    """Listens on 127.0.0.1:``port`` and forwards to 127.0.0.1:``target``.

    ``cut()`` resets the open connections and every new one, as a crashed server does;
    ``restore()`` forwards again.
    """

    def __init__(self, port: int, target: int) -> None:
        self.port = port
        self.target = target
        self.forwarding = True
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._listener = socket.create_server(("127.0.0.1", port), reuse_port=False)
        self._listener.settimeout(0.2)
        self._closed = False
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    @property
    def url_netloc(self) -> str:
        """host:port clients connect to."""
        return f"127.0.0.1:{self.port}"

    def cut(self) -> None:
        """Resets every open connection; new ones are reset on arrival."""
        with self._lock:
            self.forwarding = False
            sockets, self._open = self._open, set()
        for sock in sockets:
            _reset(sock)

    def restore(self) -> None:
        """Forwards new connections again."""
        with self._lock:
            self.forwarding = True

    def close(self) -> None:
        """Stops listening and resets everything."""
        self._closed = True
        self.cut()
        self._thread.join(timeout=2)
        self._listener.close()

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                forwarding = self.forwarding
            if not forwarding:
                _reset(client)
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target), timeout=2)
            except OSError:
                _reset(client)
                continue
            upstream.settimeout(None)
            with self._lock:
                self._open.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(_CHUNK):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with self._lock:
                    self._open.discard(sock)
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            source.close()  # each socket is the source of exactly one pump
