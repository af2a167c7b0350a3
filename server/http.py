"""The HTTP side of the server, guarded against careless and hostile clients.

`GuardedHTTPServer` is tornado's HTTP server with three bounds a plain one lacks: an address
may hold only so many HTTP connections at once (`limits.http_connections_per_address`; a
connection upgraded to a websocket leaves this count for the websocket's own), idle and
unfinished requests are closed after `limits.http_idle_timeout_s` / `http_body_timeout_s`, and
when the process runs out of file descriptors the accept loop pauses for
`limits.accept_backoff_s` (logging once per episode) instead of retrying at once in a busy loop.

`WebFiles` serves the browser client; a path no file can have (a NUL byte) is a 400."""

from __future__ import annotations

import errno
import logging
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

import tornado.httpserver
import tornado.iostream
import tornado.web
from tornado.ioloop import IOLoop

from config.settings import Limits

log = logging.getLogger(__name__)

# accept() errors that mean "no descriptors or buffers left", not a bad connection
_STARVED = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
_ACCEPTS_PER_WAKE = 128


class GuardedHTTPServer(tornado.httpserver.HTTPServer):
    """tornado's HTTPServer with per-address connection counts, timeouts and accept back-off."""

    def initialize(self, request_callback: Any, limits: Limits | None = None, **kwargs: Any) -> None:  # type: ignore[override]
        lim = limits or Limits()
        kwargs.setdefault("idle_connection_timeout", lim.http_idle_timeout_s)
        kwargs.setdefault("body_timeout", lim.http_body_timeout_s)
        super().initialize(request_callback, **kwargs)
        self.limits = lim
        self.per_address: Counter[str] = Counter()
        self._address_of: dict[tornado.iostream.IOStream, str] = {}
        self.refused = 0  # connections closed at once for their address's count
        self.starved_since: float | None = None  # when accept() last ran out of descriptors
        self.starved_errors = 0

    # -------------------------------------------------------- per address

    def handle_stream(self, stream: tornado.iostream.IOStream, address: Any) -> None:
        ip = address[0] if isinstance(address, tuple) and address else "local"
        if self.per_address[ip] >= self.limits.http_connections_per_address:
            self.refused += 1
            if self.refused == 1 or self.refused % 1000 == 0:
                log.warning(
                    "%s holds %d HTTP connections, the most one address may: closing new ones (%d so far)",
                    ip,
                    self.per_address[ip],
                    self.refused,
                )
            stream.close()
            return
        self.per_address[ip] += 1
        self._address_of[stream] = ip
        super().handle_stream(stream, address)

    def on_close(self, server_conn: object) -> None:
        super().on_close(server_conn)
        ip = self._address_of.pop(getattr(server_conn, "stream", None), None)  # type: ignore[arg-type]
        if ip is not None:
            self.per_address[ip] -= 1
            if self.per_address[ip] <= 0:
                del self.per_address[ip]

    # ------------------------------------------------------------- accept

    def add_sockets(self, sockets: Iterable[socket.socket]) -> None:
        for sock in sockets:
            self._sockets[sock.fileno()] = sock
            self._handlers[sock.fileno()] = self._accept_on(sock)

    def _accept_on(self, sock: socket.socket) -> Callable[[], None]:
        """Accept connections on `sock` until removed; returns the remover (`stop` calls it)."""
        loop = IOLoop.current()
        state: dict[str, Any] = {"removed": False, "paused": None}

        def readable(_fd: Any, _events: int) -> None:
            for _ in range(_ACCEPTS_PER_WAKE):
                if state["removed"]:
                    return
                try:
                    conn, address = sock.accept()
                except BlockingIOError:
                    return
                except ConnectionAbortedError:
                    continue
                except OSError as e:
                    if e.errno not in _STARVED:
                        raise
                    self._starved(e)
                    loop.remove_handler(sock)  # the socket stays readable: waiting on it would spin
                    state["paused"] = loop.call_later(self.limits.accept_backoff_s, resume)
                    return
                if self.starved_since is not None:
                    log.warning(
                        "accepting connections again after %.1f s without file descriptors (%d failed accepts)",
                        time.monotonic() - self.starved_since,
                        self.starved_errors,
                    )
                    self.starved_since, self.starved_errors = None, 0
                self._handle_connection(conn, address)

        def resume() -> None:
            state["paused"] = None
            if not state["removed"]:
                loop.add_handler(sock, readable, IOLoop.READ)

        def remove() -> None:
            state["removed"] = True
            if state["paused"] is not None:
                loop.remove_timeout(state["paused"])
            else:
                loop.remove_handler(sock)

        loop.add_handler(sock, readable, IOLoop.READ)
        return remove

    def _starved(self, e: OSError) -> None:
        self.starved_errors += 1
        if self.starved_since is None:
            self.starved_since = time.monotonic()
            log.error(
                "cannot accept connections: %s; %d HTTP connections open; retrying every %.1f s "
                "(logged once until accepting works again)",
                e.strerror,
                len(self._connections),
                self.limits.accept_backoff_s,
            )


class WebFiles(tornado.web.StaticFileHandler):
    """The browser client's files. A path with a NUL byte is refused (400), not a server error."""

    def validate_absolute_path(self, root: str, absolute_path: str) -> str | None:
        if "\x00" in absolute_path:
            raise tornado.web.HTTPError(400, "a path may not hold a NUL byte")
        return super().validate_absolute_path(root, absolute_path)
