"""Limits (issue 7): frame size, command rate, connections per address, agents per town and a
client that does not read. Each refusal is a clear error frame; the connection stays usable."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson

from server.app import Running, run_town
from server.client import ConnectionLost, TownClient
from tests.conftest import ADMIN, make_settings


@asynccontextmanager
async def small_town(url: str, **limits: Any) -> AsyncIterator[Running]:
    async with run_town(make_settings(url, limits=limits)) as r:
        yield r


async def test_frame_size_limit(sqlite_url: str) -> None:
    async with small_town(sqlite_url, max_frame_bytes=512) as r:
        c = await TownClient.connect(r.ws_url)
        big = orjson.dumps({"id": 7, "command": "info", "data": {"pad": "x" * 600}}).decode()
        await c.send_raw(big)
        f = await c.answer(None)
        assert f["ok"] is False and f["error"]["code"] == "frame_too_large"
        assert "512" in f["error"]["message"]
        # far over the limit (tornado's own cap): the connection is closed, never the server
        await c.send_raw("y" * (2 << 20))
        try:
            f = await c.recv(10)
            assert f["error"]["code"] == "frame_too_large"
        except ConnectionLost:
            pass
        c2 = await TownClient.connect(r.ws_url)
        assert (await c2.call("info"))["server"]
        c2.close()
        c.close()


async def test_frame_size_limit_keeps_connection(sqlite_url: str) -> None:
    async with small_town(sqlite_url, max_frame_bytes=512) as r:
        c = await TownClient.connect(r.ws_url)
        for _ in range(3):
            await c.send_raw("z" * 1000)
            assert (await c.answer(None))["error"]["code"] == "frame_too_large"
        assert (await c.call("info"))["tick"] == 0
        c.close()


async def test_command_rate_limit(sqlite_url: str) -> None:
    async with small_town(sqlite_url, commands_per_second=2, command_burst=3) as r:
        c = await TownClient.connect(r.ws_url)
        for i in range(10):  # all at once, answers read afterwards
            await c.send_raw(orjson.dumps({"id": i, "command": "info", "data": {}}).decode())
        answers = [await c.answer(None) for _ in range(10)]
        assert [a["id"] for a in answers] == list(range(10))  # in order, ids echoed
        ok = [a for a in answers if a["ok"]]
        limited = [a for a in answers if not a["ok"]]
        assert 3 <= len(ok) <= 4 and len(limited) >= 6
        assert all(
            a["error"]["code"] == "rate_limited" and "2 commands per second" in a["error"]["message"]
            for a in limited
        )
        # the connection stays open and the bucket refills
        deadline = time.monotonic() + 5
        while True:
            f = await c.request("info")
            if f["ok"]:
                break
            assert time.monotonic() < deadline, "the rate limit never let up"
            await asyncio.sleep(0.1)
        other = await TownClient.connect(r.ws_url)  # the limit is per connection
        assert all([(await other.request("info"))["ok"] for _ in range(3)])
        other.close()
        c.close()


async def test_connections_per_address(sqlite_url: str) -> None:
    async with small_town(sqlite_url, connections_per_address=2) as r:
        a, b = await TownClient.connect(r.ws_url), await TownClient.connect(r.ws_url)
        extra = await TownClient.connect(r.ws_url)
        f = await extra.recv(10)
        assert (
            f["ok"] is False
            and f["error"]["code"] == "limit_reached"
            and "2 connections" in f["error"]["message"]
        )
        try:
            await extra.recv(10)
            raise AssertionError("the extra connection stayed open")
        except ConnectionLost:
            pass
        assert (await a.call("info"))["server"] and (await b.call("info"))["server"]
        a.close()
        deadline = time.monotonic() + 10  # a closed connection frees its place
        while r.services.connections.get("127.0.0.1", 0) > 1:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
        again = await TownClient.connect(r.ws_url)
        assert (await again.call("info"))["server"]
        again.close()
        b.close()


async def test_agents_per_town(sqlite_url: str) -> None:
    settings = make_settings(sqlite_url, agents=None, limits={"agents_per_town": 2})
    async with run_town(settings) as r:
        c = await TownClient.connect(r.ws_url)
        await c.call("login", token=ADMIN)
        for i in range(2):
            await c.call("register", name=f"Agent {i}", bio="b", goal="g")
        f = await c.request("register", {"name": "One Too Many", "bio": "b", "goal": "g"})
        assert f["error"]["code"] == "limit_reached" and "maximum of 2 agents" in f["error"]["message"]
        assert len(r.services.world.agents) == 2 and await r.services.world.repo.count("agents") == 2
        c.close()


class RawSocketClient:
    """A websocket client over a plain socket with a tiny receive buffer that never reads."""

    def __init__(self, port: int) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
        self.sock.setblocking(False)
        self.port = port

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.sock_connect(self.sock, ("127.0.0.1", self.port))
        key = base64.b64encode(os.urandom(16)).decode()
        hello = (
            f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        await loop.sock_sendall(self.sock, hello.encode())
        head = b""
        while b"\r\n\r\n" not in head:  # the handshake answer is all it ever reads
            head += await loop.sock_recv(self.sock, 1)
        assert b" 101 " in head.split(b"\r\n")[0], head

    async def send_text(self, text: str) -> None:
        payload, mask = text.encode(), os.urandom(4)
        n = len(payload)
        header = bytes([0x81]) + (
            bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + n.to_bytes(2, "big")
        )
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        await asyncio.get_running_loop().sock_sendall(self.sock, header + mask + masked)

    def close(self) -> None:
        self.sock.close()


async def test_client_that_never_reads_is_dropped_without_stalling_anyone(sqlite_url: str) -> None:
    async with small_town(sqlite_url, send_queue_frames=4) as r:
        s = r.services
        admin = await TownClient.connect(r.ws_url)
        await admin.call("login", token=ADMIN)
        for i in range(30):  # fatter tick pushes
            await admin.call("register", name=f"Walker {i}", bio="b", goal="walk about town")
        good = await TownClient.connect(r.ws_url)
        await good.call("subscribe")
        slow = RawSocketClient(r.port)
        await slow.open()
        await slow.send_text(orjson.dumps({"id": 1, "command": "subscribe", "data": {}}).decode())
        for i in range(2, 40):  # big answers it never reads fill the socket buffers
            await slow.send_text(orjson.dumps({"id": i, "command": "get_town", "data": {}}).decode())
        deadline = time.monotonic() + 10
        while len(s.hub.sessions) < 2:
            assert time.monotonic() < deadline, "the raw client never subscribed"
            await asyncio.sleep(0.01)
        slow_session = max(s.hub.sessions, key=lambda x: x.id)  # the latest to subscribe
        assert s.connections["127.0.0.1"] == 3
        worst_push = worst_tick = 0.0
        dropped_at = None
        t_end = time.monotonic() + 90
        for _ in range(2000):
            t0 = time.monotonic()
            out = await admin.call("tick", timeout=10)
            push = await good.next_push("tick", timeout=5)  # the good client gets every push
            assert push["data"]["tick"] == out["tick"]
            worst_push = max(worst_push, time.monotonic() - t0)
            worst_tick = max(worst_tick, out["wall_ms"])
            if slow_session.dropped and dropped_at is None:
                dropped_at, t_drop = out["tick"], time.monotonic()
                assert slow_session not in s.hub.sessions
            if dropped_at is not None and s.connections.get("127.0.0.1", 0) == 2:
                # closed at once (tornado aborts a socket that does not answer the close in 5 s),
                # not left to the 20 s keep-alive ping
                assert time.monotonic() - t_drop < 10
                break
            assert time.monotonic() < t_end, (
                f"the slow client was never closed (dropped at tick {dropped_at})"
            )
        else:
            raise AssertionError("the slow client was never dropped")
        # no wall-time bound here (machines differ): a tick or push held up by the slow client
        # would run into the calls' timeouts above; the figures are printed for the curious
        print(
            f"slow client dropped at tick {dropped_at}, closed by tick {out['tick']}; "
            f"worst push {worst_push:.3f}s, worst tick {worst_tick:.0f} ms"
        )
        # and everyone else carries on
        assert (await good.call("info"))["tick"] == out["tick"]
        slow.close()
        good.close()
        admin.close()


async def test_long_command_does_not_time_out_keepalive_pings(sqlite_url: str) -> None:
    """A tick longer than the ping timeout keeps its connection: pongs are read while it runs."""
    from tests.fakes.openai_server import FakeOpenAIServer
    from tests.fakes.town_responder import town_responder

    async with FakeOpenAIServer(responder=town_responder, latency=0.6) as fake:
        profile = fake.profile()
        async with run_town(make_settings(sqlite_url, agents=None, llm=profile)) as r:
            app = r.server.request_callback
            app.settings.update(websocket_ping_interval=0.1, websocket_ping_timeout=0.3)  # type: ignore[union-attr]
            c = await TownClient.connect(r.ws_url)
            await c.call("login", token=ADMIN)
            await c.call("register", name="Slow Thinker", bio="b", goal="g", home="cafe")
            t0 = time.monotonic()
            s = await c.call("tick", timeout=60)  # several model calls in a row: seconds
            assert time.monotonic() - t0 > 1.0 and s["llm_calls"] >= 2
            assert (await c.call("info"))["tick"] == 1
            c.close()


async def test_client_gone_mid_tick_does_not_abort_it(sqlite_url: str) -> None:
    """The tick in flight when its client disconnects completes and commits."""
    from tests.fakes.openai_server import FakeOpenAIServer
    from tests.fakes.town_responder import town_responder

    async with FakeOpenAIServer(responder=town_responder, latency=0.3) as fake:
        profile = fake.profile()
        async with run_town(make_settings(sqlite_url, agents=None, llm=profile)) as r:
            w = r.services.world
            c = await TownClient.connect(r.ws_url)
            await c.call("login", token=ADMIN)
            await c.call("register", name="Busy Bee", bio="b", goal="g", home="cafe")
            await c.send_raw(orjson.dumps({"id": 1, "command": "tick", "data": {}}).decode())
            deadline = time.monotonic() + 10
            while fake.in_flight == 0:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.01)
            c.close()
            while w.clock.tick < 1 or await w.repo.count("ticks") < 1:
                assert time.monotonic() < deadline + 20, "the tick was abandoned"
                await asyncio.sleep(0.05)
            assert w.ledger.total() == 0
