"""A loopback TCP proxy in front of the real server that a test can cut, or make misbehave."""

from __future__ import annotations

import socket
import threading
from contextlib import suppress


class Proxy:
    """Forwards 127.0.0.1:<port> to the server.

    `cut()` drops every open connection at once (the client sees the server hang up mid-answer).
    `end_streams_cleanly()` ends every open answer with the last chunk of a chunked body, as an
    intermediary that closes idle streams does. `drop_next_response()` lets the next request reach
    the server but closes the connection instead of passing its answer back. `answer_next(n, raw)`
    has the proxy itself answer the next n new connections with `raw` (what a gateway does when it
    rate-limits or its upstream is down).
    """

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self._clients: list[socket.socket] = []
        self._drop_responses = 0
        self._canned: list[bytes] = []
        self.connections = 0
        self.requests_answered_by_proxy = 0
        self.responses_dropped = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            sockets, self._open = self._open, []
        for sock in sockets:
            _close(sock)

    def end_streams_cleanly(self) -> None:
        with self._lock:
            clients, self._clients = self._clients, []
        for client in clients:
            with suppress(OSError):
                client.sendall(b"0\r\n\r\n")
        self.cut()

    def drop_next_response(self) -> None:
        with self._lock:
            self._drop_responses += 1

    def answer_next(self, count: int, raw: bytes) -> None:
        with self._lock:
            self._canned.extend([raw] * count)

    def close(self) -> None:
        _close(self._listener)
        self.cut()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
                canned = self._canned.pop(0) if self._canned else None
            if canned is not None:
                threading.Thread(target=self._answer, args=(client, canned), daemon=True).start()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            except OSError:
                _close(client)
                continue
            with self._lock:
                self._open += [client, upstream]
                self._clients.append(client)
            threading.Thread(target=self._pump, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, True), daemon=True).start()

    def _answer(self, client: socket.socket, raw: bytes) -> None:
        with suppress(OSError):
            client.recv(65536)  # the request (small in these tests)
            client.sendall(raw)
        with self._lock:
            self.requests_answered_by_proxy += 1
        _close(client)

    def _pump(self, source: socket.socket, target: socket.socket, is_answer: bool) -> None:
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                break
            if not data:
                break
            if is_answer:
                with self._lock:
                    drop = self._drop_responses > 0
                    if drop:
                        self._drop_responses -= 1
                        self.responses_dropped += 1
                if drop:
                    break
            try:
                target.sendall(data)
            except OSError:
                break
        _close(source)
        _close(target)


def _close(sock: socket.socket) -> None:
    with suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with suppress(OSError):
        sock.close()


def http_answer(status: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body
