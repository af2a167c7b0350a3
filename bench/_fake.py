"""The fake OpenAI-compatible server of the benchmarks, as a process:
`python -m bench._fake --latency 0.2` prints its base URL and serves until SIGTERM.

It answers `POST .../chat/completions` after the set latency with a minimal valid object for the
prompt's answer schema (`tests.fakes.town_responder`: the schema's title is read from the system
message, the destination is the first building id in the prompt), so no agent step fails on a
bad answer.

It is a lean HTTP/1.1 server on `asyncio.Protocol` (keep-alive, `Content-Length` bodies), not the
tornado fake the tests use (`tests.fakes.openai_server`, which also injects faults). The floor a
benchmark divides by assumes a model server that answers every request after the latency however
many arrive together; the tornado fake spends about 1.1 ms of CPU per request on one core, so a
wave of 100 requests queued behind ~110 ms of its own work. This one spends about a tenth of that.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from typing import Any

import orjson

from tests.fakes.openai_server import chat_completion
from tests.fakes.town_responder import town_responder

_MAX_HEAD = 64 * 1024


class _Connection(asyncio.Protocol):
    """One client connection: requests one after another (no pipelining), each answered after
    the latency."""

    def __init__(self, server: LeanFakeServer) -> None:
        self.server = server
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None
        self.busy = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buf += data
        self._next()

    def _next(self) -> None:
        if self.busy or self.transport is None:
            return
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buf) > _MAX_HEAD:
                self._reply(431, b'{"error": {"message": "header too large"}}', close=True)
            return
        lines = bytes(self.buf[:end]).split(b"\r\n")
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if len(self.buf) < end + 4 + length:
            return
        raw = bytes(self.buf[end + 4 : end + 4 + length])
        del self.buf[: end + 4 + length]
        parts = lines[0].split()
        if len(parts) < 2 or parts[0] != b"POST" or not parts[1].endswith(b"/chat/completions"):
            self._reply(404, b'{"error": {"message": "only POST .../chat/completions is served"}}')
            return
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            self._reply(400, b'{"error": {"message": "the body is not JSON"}}')
            return
        self.busy = True
        self.server.served += 1
        asyncio.get_running_loop().call_later(self.server.latency, self._answer, body, self.server.served)

    def _answer(self, body: dict[str, Any], served: int) -> None:
        self.busy = False
        self._reply(200, orjson.dumps(chat_completion(body, self.server.respond(body), served)))

    def _reply(self, status: int, payload: bytes, close: bool = False) -> None:
        if self.transport is None:
            return
        reason = {
            200: b"OK",
            400: b"Bad Request",
            404: b"Not Found",
            431: b"Request Header Fields Too Large",
        }[status]
        self.transport.write(
            b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n"
            % (status, reason, len(payload), b"Connection: close\r\n" if close else b"")
            + payload
        )
        if close:
            self.transport.close()
            return
        self._next()


class LeanFakeServer:
    """Listens on 127.0.0.1 (a free port) and answers chat completions after `latency` seconds."""

    def __init__(self, latency: float, restless: bool = False) -> None:
        self.latency = latency
        self.restless = restless
        self.served = 0
        self._server: asyncio.Server | None = None

    def respond(self, body: dict[str, Any]) -> str:
        """The answer's content: `town_responder`'s, except that a restless server has every
        agent leave a building instead of using its equipment (so no action lasts and every
        agent decides again at once: the load `bench.tick_concurrency` measures)."""
        answer = town_responder(body)
        if self.restless and '"action": "use"' in answer:
            return '{"action": "leave", "reason": "restless"}'
        return answer

    async def start(self) -> str:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Connection(self), "127.0.0.1", 0, backlog=4096)
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/v1"

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()


async def _main(latency: float, restless: bool) -> None:
    server = LeanFakeServer(latency, restless)
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, done.set)
    url = await server.start()
    sys.stdout.write(url + "\n")
    sys.stdout.flush()
    try:
        await done.wait()
    finally:
        await server.stop()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--latency", type=float, default=0.2)
    p.add_argument("--restless", action="store_true", help="agents leave instead of using equipment")
    a = p.parse_args()
    asyncio.run(_main(a.latency, a.restless))


if __name__ == "__main__":
    main()
