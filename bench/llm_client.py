"""The HTTP client's share of a tick: waves of concurrent chat completions against the fake
server (`bench._fake`, own process, 200 ms latency), with no town around them.

- `sdk`: `OpenAIModel.complete`, the code path agents use: the `openai` SDK over our
  `StreamTransport` (`agent/llm/http11.py`), as for every plain-http `base_url`;
- `sdk_httpx_transport`: the same SDK calls over httpx's own transport (httpcore, anyio, h11), as
  for an https `base_url`: what `StreamTransport` saves;
- `bare_asyncio`: the same requests over keep-alive asyncio streams, hand-written HTTP/1.1 with
  no SDK (the baseline: what the bytes on the wire cost without a client library).

For each: wall time of `WAVES` waves of `N` calls (all of a wave at once, the next wave when it
is done) divided by the floor (`WAVES` x latency), and this process's CPU per call. It explains
`tick_concurrency`: a tick's ratio cannot beat its client's ratio here.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import urlparse

import orjson

from bench._common import emit, fake_llm, main_async

LATENCY = 0.2
WAVES = 3
CONNECTIONS = 2000  # as tick_concurrency's `llm_limits.concurrency`
SYSTEM = "You are a townsperson. Answer in JSON. " * 40 + '{"title": "QAQuestions", "type": "object"}'


async def _waves(call: Callable[[int], Awaitable[Any]], n: int) -> dict[str, float]:
    await asyncio.gather(*(call(i) for i in range(n)))  # connections opened, code warm
    cpu0, t0 = time.process_time(), time.perf_counter()
    for _ in range(WAVES):
        await asyncio.gather(*(call(i) for i in range(n)))
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return {
        "wall_s": round(wall, 3),
        "ratio": round(wall / (WAVES * LATENCY), 3),
        "cpu_ms_per_call": round(cpu * 1000 / (WAVES * n), 3),
    }


async def _sdk(url: str, n: int, *, httpx_transport: bool = False) -> dict[str, float]:
    from agent.interfaces import LLMRequest, Message
    from agent.llm.openai_client import OpenAIModel, make_client

    if httpx_transport:  # one client, a pool as big as the wave (64-connection shards: no faster)
        client = make_client(
            base_url=url, api_key=None, timeout_s=60.0, connections=n, stream_transport=False
        )
        model = OpenAIModel("fake", client=client)
    else:
        model = OpenAIModel("fake", base_url=url, connections=CONNECTIONS)
    messages = (Message("system", SYSTEM), Message("user", "Where should I go next? " * 10))
    try:
        return await _waves(lambda i: model.complete(LLMRequest("qa_ask", messages, agent_id=f"a{i}")), n)
    finally:
        await model.aclose()


async def _bare(url: str, n: int) -> dict[str, float]:
    u = urlparse(url)
    path = (u.path.rstrip("/") + "/chat/completions").encode()
    body = orjson.dumps(
        {
            "model": "fake",
            "messages": [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": "Where should I go next? " * 10},
            ],
        }
    )
    head = b"POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % (
        path,
        u.netloc.encode(),
        len(body),
    )
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    opened: list[asyncio.StreamWriter] = []

    async def call(_i: int) -> dict[str, Any]:
        if idle:
            reader, writer = idle.pop()
        else:
            reader, writer = await asyncio.open_connection(u.hostname, u.port)
            opened.append(writer)
        writer.write(head + body)
        response_head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":", 1)[1])
            for line in response_head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        answer: dict[str, Any] = orjson.loads(await reader.readexactly(length))
        idle.append((reader, writer))
        return answer

    try:
        return await _waves(call, n)
    finally:
        for w in opened:
            w.close()


async def run(quick: bool) -> None:
    sizes = [10] if quick else [10, 100]
    rows: dict[str, Any] = {}
    with fake_llm(LATENCY) as fake:
        for n in sizes:
            rows[str(n)] = {
                "sdk": await _sdk(fake.url, n),
                "sdk_httpx_transport": await _sdk(fake.url, n, httpx_transport=True),
                "bare_asyncio": await _bare(fake.url, n),
            }
    emit(
        "llm_client",
        {
            "sizes": sizes,
            "waves": WAVES,
            "latency_s": LATENCY,
            "server": "bench._fake (own process)",
            "sdk_connections": CONNECTIONS,
        },
        {"by_calls_per_wave": rows},
        "report only: the client's share of tick_concurrency",
        True,
    )


def main(argv: Sequence[str] | None = None) -> None:
    main_async(run, argv, __doc__ or "")


if __name__ == "__main__":
    main(sys.argv[1:])
