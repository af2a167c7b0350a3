"""Websocket subscribers for `bench.fanout`, in their own process:
`python -m bench._subscribers URL N TICKS SLOW` connects N clients, prints "ready", and when
every client has received TICKS `tick` pushes prints one JSON object: for each tick, the
CLOCK_MONOTONIC time each client received it. When SLOW is 1, a line "slow" on stdin opens one
more client that subscribes and then never reads, and "slow-ready" is printed once its
subscribe is sent; so the bench can measure the ticks before it joins as the baseline.

The slow client is a bare socket with a 4 KB receive buffer set before it connects, as on a slow
link: with loopback's autotuned buffers (megabytes on each side) the kernel would absorb every
delta of the run and the server would never see the client lag. It sends a User-Agent of its own
so that the bench can shrink the server's send buffer on that connection only.

The N clients are `townclient.TownClient`s, as a researcher's would be: each stamps a push as it
reads it off its socket (`RawPush.received`), before any decoding.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import socket
import sys
from urllib.parse import urlparse

from townclient import TownClient

TICK_HEAD = re.compile(rb'\{"type":"tick","data":\{"tick":(\d+),')
SLOW_AGENT = "bench-slow-client"  # the slow client's User-Agent: the bench shrinks only its send buffer


async def slow_client(url: str) -> socket.socket:
    """Open a websocket by hand on a socket with a small receive buffer; subscribe; never read."""
    u = urlparse(url)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: a small window
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, (u.hostname, u.port))
    key = base64.b64encode(os.urandom(16)).decode()
    await loop.sock_sendall(
        sock,
        (
            f"GET {u.path} HTTP/1.1\r\nHost: {u.netloc}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nUser-Agent: {SLOW_AGENT}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode(),
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += await loop.sock_recv(sock, 1)  # byte by byte: read nothing past the handshake
    assert head.startswith(b"HTTP/1.1 101"), head
    payload = json.dumps({"id": 1, "command": "subscribe", "data": {}}).encode()
    mask = os.urandom(4)
    frame = bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    await loop.sock_sendall(sock, frame)
    return sock


async def main(url: str, n: int, ticks: int, slow: bool) -> None:
    clients = [await TownClient.connect(url) for _ in range(n)]
    for c in clients:
        await c.subscribe()
    lazy: socket.socket | None = None
    got: dict[int, list[float]] = {}
    loop = asyncio.get_running_loop()

    async def read(c: TownClient) -> None:
        # The client stamps a frame when it reads it, before any decoding: the clients share one
        # process (and the server's two cores), so decoding 200 deltas here would be counted as
        # latency. The tick number is read from the frame's head; anything else is decoded in full.
        n = 0
        while n < ticks:
            p = await c.next_raw_push(timeout=None)
            head = TICK_HEAD.match(p.data)
            if head is not None:
                tick = int(head.group(1))
            else:
                frame = p.decode()
                if frame.type != "tick":
                    continue
                tick = frame.data["tick"]
            got.setdefault(tick, []).append(p.received)
            n += 1

    async def open_slow() -> None:
        nonlocal lazy
        line = await loop.run_in_executor(None, sys.stdin.readline)
        assert line.strip() == "slow", line
        lazy = await slow_client(url)
        print("slow-ready", flush=True)  # its subscribe is sent; the bench waits for the server to count it

    print("ready", flush=True)
    await asyncio.gather(*(read(c) for c in clients), *([open_slow()] if slow else []))
    print(json.dumps({str(k): v for k, v in got.items()}), flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)  # hold the slow client open until the bench is done
    await asyncio.gather(*(c.close() for c in clients))
    if lazy is not None:
        lazy.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:5] == ["1"]))
