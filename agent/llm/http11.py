"""HTTP/1.1 over asyncio streams: the `openai` SDK's transport for plain-http model servers.

The SDK sends every request through an httpx client, and the client hands the bytes to a
transport. httpx's own transport (httpcore over anyio, h11 parsing) costs about 1.5 ms of CPU
per chat completion; a hundred agents asking at once spend 150 ms of the event loop's one core
before the last request leaves, which is most of a 200 ms model's latency again
(`bench/llm_client.py`). This transport does the same job for `http://` servers with asyncio's
streams: keep-alive connections, Content-Length and chunked bodies, connect/write/read
timeouts as the SDK sets them, and httpx's exception types, so the SDK's error mapping
(timeouts, lost connections, HTTP status errors) is unchanged.

It speaks no TLS and no proxies: `OpenAIModel` uses it only for a plain-http `base_url` (a
local vLLM, llama.cpp or Ollama server, or the fake) and keeps httpx's transport for `https`.
"""

from __future__ import annotations

import asyncio
import time

from agent.llm.sdk_http import httpx

# Under uvicorn's 5 s keep-alive (vLLM, FastAPI servers): a connection idle longer than this is
# closed rather than reused, so the server's close does not race our next request.
KEEPALIVE_S = 4.0
_MAX_HEAD = 64 * 1024  # bytes of status line and headers we accept
_NO_BODY_STATUS = frozenset({204, 304})


class _Conn:
    __slots__ = ("reader", "writer", "idle_since")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.idle_since = 0.0

    def usable(self, now: float) -> bool:
        return (
            now - self.idle_since < KEEPALIVE_S and not self.reader.at_eof() and not self.writer.is_closing()
        )

    def close(self) -> None:
        self.writer.close()


class _StaleConnection(Exception):
    """A reused keep-alive connection died before any byte of the answer: safe to resend."""


def _timeouts(request: httpx.Request) -> tuple[float | None, float | None, float | None]:
    t = request.extensions.get("timeout") or {}
    return t.get("connect"), t.get("write"), t.get("read")


def _head(request: httpx.Request, body: bytes) -> bytes:
    lines = [b"%s %s HTTP/1.1" % (request.method.encode("ascii"), request.url.raw_path)]
    lines.extend(b"%s: %s" % (k, v) for k, v in request.headers.raw)
    if body and "content-length" not in request.headers and "transfer-encoding" not in request.headers:
        lines.append(b"Content-Length: %d" % len(body))
    lines.append(b"\r\n")
    return b"\r\n".join(lines)


def _parse_head(raw: bytes) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    """(status, http version, headers) of a response head; `RemoteProtocolError` if malformed."""
    lines = raw.split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        raise httpx.RemoteProtocolError(f"malformed status line: {lines[0][:100]!r}")
    headers = []
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(b":")
        if not sep or not name or name != name.strip():
            raise httpx.RemoteProtocolError(f"malformed header line: {line[:100]!r}")
        headers.append((name, value.strip()))
    return int(parts[1]), parts[0], headers


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    out = bytearray()
    while True:
        size_line = await reader.readuntil(b"\r\n")
        try:
            size = int(size_line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise httpx.RemoteProtocolError(f"malformed chunk size: {size_line[:40]!r}") from None
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers, then the blank line
                pass
            return bytes(out)
        out += await reader.readexactly(size + 2)
        del out[-2:]


class StreamTransport(httpx.AsyncBaseTransport):
    """An httpx transport for `http://` URLs over asyncio streams with a keep-alive pool.

    `max_idle` bounds the connections kept open between requests per host; how many are in
    flight is up to the caller (the LLM limiter)."""

    def __init__(self, *, max_idle: int = 256) -> None:
        self._max_idle = max_idle
        self._idle: dict[tuple[str, int], list[_Conn]] = {}
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme != "http":
            raise httpx.UnsupportedProtocol(f"StreamTransport speaks plain http only, not {url.scheme!r}")
        if self._closed:
            raise httpx.ConnectError("the transport is closed")
        key = (url.host, url.port or 80)
        body = await request.aread()
        head = _head(request, body)
        data = head + body if body else head
        conn = self._checkout(key)
        if conn is not None:
            try:
                return await self._exchange(conn, key, request, data, reused=True)
            except _StaleConnection:
                pass  # resent once, on a new connection (as another idle one may be as stale)
        conn = await self._connect(key, _timeouts(request)[0])
        return await self._exchange(conn, key, request, data, reused=False)

    async def _connect(self, key: tuple[str, int], timeout: float | None) -> _Conn:
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(*key, limit=_MAX_HEAD)
        except TimeoutError:
            raise httpx.ConnectTimeout(f"connecting to {key[0]}:{key[1]} timed out") from None
        except OSError as e:
            raise httpx.ConnectError(f"connecting to {key[0]}:{key[1]}: {e}") from e
        return _Conn(reader, writer)

    async def _exchange(
        self, conn: _Conn, key: tuple[str, int], request: httpx.Request, data: bytes, *, reused: bool
    ) -> httpx.Response:
        _, write_t, read_t = _timeouts(request)
        keep = False
        got_bytes = False
        try:
            try:
                conn.writer.write(data)
                async with asyncio.timeout(write_t):
                    await conn.writer.drain()
            except TimeoutError:
                raise httpx.WriteTimeout("sending the request timed out") from None
            try:
                async with asyncio.timeout(read_t):
                    while True:  # skip interim 1xx answers (103 Early Hints)
                        raw = await conn.reader.readuntil(b"\r\n\r\n")
                        got_bytes = True
                        status, version, headers = _parse_head(raw)
                        if status >= 200:
                            break
                    content, keep = await self._read_body(
                        conn.reader, request.method, status, version, headers
                    )
            except TimeoutError:
                raise httpx.ReadTimeout("reading the answer timed out") from None
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError) as e:
            if reused and not got_bytes and not isinstance(e, asyncio.LimitOverrunError):
                raise _StaleConnection() from e
            if isinstance(e, (asyncio.IncompleteReadError, asyncio.LimitOverrunError)):
                raise httpx.RemoteProtocolError(
                    f"the server sent an incomplete or oversized answer: {e}"
                ) from e
            raise httpx.ReadError(f"the connection failed: {e}") from e
        finally:
            if keep and not self._closed:
                self._checkin(key, conn)
            else:
                conn.close()
        return httpx.Response(
            status, headers=headers, content=content, request=request, extensions={"http_version": version}
        )

    @staticmethod
    async def _read_body(
        reader: asyncio.StreamReader,
        method: str,
        status: int,
        version: bytes,
        headers: list[tuple[bytes, bytes]],
    ) -> tuple[bytes, bool]:
        """The answer's body and whether the connection may be reused."""
        fields = {k.lower(): v for k, v in headers}
        connection = fields.get(b"connection", b"").lower()
        keep = connection != b"close" if version == b"HTTP/1.1" else connection == b"keep-alive"
        if method == "HEAD" or status in _NO_BODY_STATUS:
            return b"", keep
        if b"chunked" in fields.get(b"transfer-encoding", b"").lower():
            return await _read_chunked(reader), keep
        length = fields.get(b"content-length")
        if length is not None:
            try:
                n = int(length)
            except ValueError:
                raise httpx.RemoteProtocolError(f"malformed Content-Length: {length[:40]!r}") from None
            return await reader.readexactly(n), keep
        return await reader.read(), False  # the body runs to the end of the connection

    def _checkout(self, key: tuple[str, int]) -> _Conn | None:
        pool = self._idle.get(key)
        now = time.monotonic()
        while pool:
            conn = pool.pop()
            if conn.usable(now):
                return conn
            conn.close()
        return None

    def _checkin(self, key: tuple[str, int], conn: _Conn) -> None:
        pool = self._idle.setdefault(key, [])
        if len(pool) >= self._max_idle:
            conn.close()
            return
        conn.idle_since = time.monotonic()
        pool.append(conn)

    async def aclose(self) -> None:
        self._closed = True
        for pool in self._idle.values():
            for conn in pool:
                conn.close()
        self._idle.clear()

    def idle_connections(self) -> int:
        """Connections kept open between requests (for tests and benchmarks)."""
        return sum(len(p) for p in self._idle.values())

    def __repr__(self) -> str:
        return f"StreamTransport(idle={self.idle_connections()})"
