"""A small tornado websocket client of the town protocol, for the tests (it also sends raw and
malformed frames). The drivers and the benchmarks use `townclient.py` (on `websockets`) instead.

async with await TownClient.connect("ws://127.0.0.1:8000/ws") as c:
    town = await c.call("get_town")
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from typing import Any

import orjson
import tornado.httpclient
import tornado.websocket


class CommandError(Exception):
    """The server answered a request with an error frame."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class ConnectionLost(Exception):
    """The server closed the connection."""


class TownClient:
    """Requests are answered in order; pushes that arrive meanwhile are kept for `next_push`."""

    def __init__(self, conn: tornado.websocket.WebSocketClientConnection):
        self.conn = conn
        self.pushes: deque[dict[str, Any]] = deque()
        self._ids = itertools.count(1)

    @classmethod
    async def connect(
        cls, url: str, *, timeout: float = 10.0, origin: str | None = None, max_message_size: int = 64 << 20
    ) -> TownClient:
        req = tornado.httpclient.HTTPRequest(
            url,
            headers={"Origin": origin} if origin else None,
            connect_timeout=timeout,
            request_timeout=timeout,
        )
        conn = await tornado.websocket.websocket_connect(req, max_message_size=max_message_size)
        return cls(conn)

    async def __aenter__(self) -> TownClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.conn.close()

    async def send_raw(self, text: str | bytes) -> None:
        await self.conn.write_message(text, binary=isinstance(text, bytes))

    async def recv(self, timeout: float | None = 60.0) -> dict[str, Any]:
        """The next frame, whatever it is."""
        msg = await asyncio.wait_for(self.conn.read_message(), timeout)
        if msg is None:
            raise ConnectionLost(f"connection closed ({self.conn.close_code} {self.conn.close_reason})")
        frame: dict[str, Any] = orjson.loads(msg)
        return frame

    async def request(
        self, command: str, data: dict[str, Any] | None = None, *, timeout: float | None = 600.0
    ) -> dict[str, Any]:
        """Send a command and return its whole answer frame (ok or error)."""
        rid = next(self._ids)
        await self.conn.write_message(
            orjson.dumps({"id": rid, "command": command, "data": data or {}}).decode()
        )
        return await self.answer(rid, timeout=timeout)

    async def answer(self, rid: Any, *, timeout: float | None = 600.0) -> dict[str, Any]:
        """Read frames until the answer to `rid`; pushes are kept."""
        while True:
            frame = await self.recv(timeout)
            if "type" in frame and "id" not in frame:
                self.pushes.append(frame)
                continue
            if frame.get("id") == rid or rid is None:
                return frame
            self.pushes.append(frame)

    async def call(self, command: str, *, timeout: float | None = 600.0, **data: Any) -> dict[str, Any]:
        """Send a command; its result, or CommandError."""
        frame = await self.request(command, data, timeout=timeout)
        if not frame.get("ok"):
            err = frame.get("error") or {}
            raise CommandError(err.get("code", "?"), err.get("message", ""))
        result: dict[str, Any] = frame["result"]
        return result

    async def next_push(self, kind: str | None = None, *, timeout: float = 30.0) -> dict[str, Any]:
        """The next push (of `kind`, skipping others)."""
        while True:
            while self.pushes:
                p = self.pushes.popleft()
                if kind is None or p.get("type") == kind:
                    return p
            frame = await self.recv(timeout)
            if "type" in frame:
                self.pushes.append(frame)
