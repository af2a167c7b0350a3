"""The websocket handler: frames in, answers and pushes out. Game errors become error frames;
anything else is logged with its traceback and answered with a generic error. The connection
stays open either way."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any
from urllib.parse import urlparse

import orjson
import tornado.websocket
from pydantic import ValidationError

from server.context import Context, Services
from server.errors import BadFrame, FrameTooLarge, GameError, LimitReached, RateLimited
from server.protocol import RequestFrame, encode, error
from server.session import Session, TokenBucket

log = logging.getLogger(__name__)


def frame_bytes(message: str | bytes) -> int:
    """The frame's size in UTF-8 bytes: a text frame arrives decoded, and one emoji is one
    character but four bytes."""
    return len(message) if isinstance(message, bytes) else len(message.encode("utf-8", "surrogatepass"))


class TownSocket(tornado.websocket.WebSocketHandler):
    """One client connection at /ws."""

    def initialize(self, services: Services) -> None:
        self.services = services
        self.session: Session | None = None
        self._writer: asyncio.Task[None] | None = None
        self._reader: asyncio.Task[None] | None = None
        # frames waiting for their turn, with whether the rate limit allowed them on arrival
        self._inbox: asyncio.Queue[tuple[str | bytes, bool] | None] = asyncio.Queue()

    def check_origin(self, origin: str) -> bool:
        allowed = self.services.settings.allowed_origins
        if "*" in allowed:
            return True
        host = urlparse(origin).netloc
        return origin in allowed or host == self.request.host

    def open(self, *args: str, **kwargs: str) -> None:
        s = self.services
        addr = self.request.remote_ip or "?"
        lim = s.settings.limits
        self.session = Session(
            addr, TokenBucket(lim.commands_per_second, lim.command_burst), lim.send_queue_frames
        )
        if s.connections[addr] >= lim.connections_per_address:
            self.session.offer(
                encode(
                    error(
                        None,
                        LimitReached.code,
                        f"more than {lim.connections_per_address} connections from {addr}",
                    )
                )
            )
            self._writer = asyncio.get_running_loop().create_task(self._drain_then_close())
            return
        s.connections[addr] += 1
        self._counted = True
        # a client too far behind is closed at once: its writer may be stuck on a full socket
        self.session.on_drop = self._on_drop
        self._writer = asyncio.get_running_loop().create_task(self._write_loop())
        self._reader = asyncio.get_running_loop().create_task(self._read_loop())
        log.debug("session %d opened from %s", self.session.id, addr)

    async def _drain_then_close(self) -> None:
        assert self.session is not None
        await self.write_message(self.session.queue.get_nowait())
        self.close(1008, "too many connections")

    def _on_drop(self) -> None:
        asyncio.get_running_loop().call_soon(self._close_slow)  # not in the middle of a broadcast

    def _close_slow(self) -> None:
        if self.ws_connection is not None and not self.ws_connection.is_closing():
            self.close(1013, "client too slow: send queue overflowed")

    async def _write_loop(self) -> None:
        """The connection's single writer: sends queued frames in order; awaits each flush so a
        slow reader fills its own queue and gets dropped, never stalling anyone else."""
        assert self.session is not None
        q = self.session.queue
        try:
            while True:
                if self.session.dropped and q.empty():
                    self.close(1013, "client too slow: send queue overflowed")
                    return
                text = await q.get()
                await self.write_message(text)
                if self.session.dropped:
                    self.close(1013, "client too slow: send queue overflowed")
                    return
        except tornado.websocket.WebSocketClosedError:
            return

    def on_close(self) -> None:
        s = self.session
        if s is None:
            return
        self.services.hub.remove(s)
        if getattr(self, "_counted", False):
            self.services.connections[s.address] -= 1
            if self.services.connections[s.address] <= 0:
                del self.services.connections[s.address]
        if self._writer is not None and not self._writer.done():
            self._writer.cancel()
        # the command in flight (a tick mid-commit) finishes; the frames behind it are dropped
        while not self._inbox.empty():
            self._inbox.get_nowait()
        self._inbox.put_nowait(None)
        log.debug("session %d closed", s.id)

    def on_message(self, message: str | bytes) -> None:
        """Queue the frame and return at once: tornado reads no further frame (pongs included)
        until this returns, so a long command must not run here or keep-alive pings time out."""
        if self._reader is None or self.session is None:
            return  # refused at open: being closed
        allowed = self.session.rate.take(time.monotonic())  # the rate counts arrivals
        if self._inbox.qsize() >= 4 * self.session.rate.burst + 16:
            log.warning("session %d: too many frames waiting; closing", self.session.id)
            self.close(1008, "too many frames waiting for an answer")
            return
        self._inbox.put_nowait((message, allowed))

    async def _read_loop(self) -> None:
        """Handles this connection's frames one at a time, in order."""
        while (item := await self._inbox.get()) is not None:
            await self._handle(*item)

    async def _handle(self, message: str | bytes, allowed: bool) -> None:
        assert self.session is not None
        frame_id: Any = None
        try:
            limit = self.services.settings.limits.max_frame_bytes
            size = frame_bytes(message)
            if size > limit:
                self._check_rate(allowed)
                raise FrameTooLarge(f"frame of {size} bytes is over the {limit}-byte limit")
            try:
                raw = orjson.loads(message)
            except orjson.JSONDecodeError as e:
                self._check_rate(allowed)
                raise BadFrame(f"frame is not valid JSON: {e}") from None
            if isinstance(raw, dict):
                frame_id = (
                    raw.get("id")
                    if isinstance(raw.get("id"), str | int) and not isinstance(raw.get("id"), bool)
                    else None
                )
            self._check_rate(allowed)  # after reading the id, so the refusal echoes it
            try:
                req = RequestFrame.model_validate(raw)
            except ValidationError as e:
                raise BadFrame(
                    "frame must be an object {id, command, data}: "
                    + "; ".join(
                        f"{'.'.join(str(x) for x in err['loc']) or 'frame'}: {err['msg']}"
                        for err in e.errors()
                    )
                ) from None
            result = await self.services.router.dispatch(
                Context(self.services, self.session), req.command, req.data
            )
            self.session.offer(encode({"id": req.id, "ok": True, "result": result.model_dump(mode="json")}))
        except GameError as e:
            self.session.offer(encode(error(frame_id, e.code, e.message)))
        except Exception:
            log.exception("session %d: command failed", self.session.id)
            self.session.offer(
                encode(
                    error(
                        frame_id, "internal_error", "the server failed to handle this command; it is logged"
                    )
                )
            )

    def _check_rate(self, allowed: bool) -> None:
        if not allowed:
            assert self.session is not None
            raise RateLimited(f"more than {self.session.rate.rate:g} commands per second on this connection")
