"""`StreamTransport`, the SDK's HTTP/1.1 transport for plain-http model servers, through
`OpenAIModel.complete` (the real `openai` SDK) against a raw asyncio server that answers with
exactly the bytes each test scripts: keep-alive, chunked and gzip bodies, bodies that run to the
close, stale keep-alive connections, interim answers, and broken answers.
"""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import orjson
import pytest

from agent.interfaces import LLMError, LLMRequest, Message
from agent.llm.http11 import StreamTransport
from agent.llm.openai_client import OpenAIModel
from agent.llm.sdk_http import httpx


def completion(text: str) -> bytes:
    return orjson.dumps(
        {
            "id": "c1",
            "object": "chat.completion",
            "created": 0,
            "model": "raw",
            "choices": [
                {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}
            ],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
        }
    )


def ok(body: bytes, *extra: str) -> bytes:
    head = ["HTTP/1.1 200 OK", "Content-Type: application/json", f"Content-Length: {len(body)}", *extra]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


# answer(connection number, request number on that connection, request body) -> bytes to send,
# or None to close the connection without answering.
Answer = Callable[[int, int, bytes], "bytes | None"]


@dataclass
class RawServer:
    answer: Answer
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)
    heads: list[bytes] = field(default_factory=list)
    close_after_answer: bool = False
    # hold every first answer until this many connections are open (0: answer at once), so a
    # test's concurrent calls each get a connection of their own whatever the scheduling
    gate: int = 0
    gate_open: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = self.connections
        self.connections += 1
        if self.connections >= self.gate:
            self.gate_open.set()
        try:
            for n in range(1000):
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                body = await reader.readexactly(length)
                self.heads.append(head)
                self.requests.append(body)
                if n == 0:
                    await self.gate_open.wait()
                data = self.answer(conn, n, body)
                if data is None:
                    break
                writer.write(data)
                await writer.drain()
                if self.close_after_answer:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def raw() -> AsyncIterator[Callable[..., tuple[RawServer, str]]]:
    servers: list[asyncio.Server] = []

    async def start(answer: Answer, close_after_answer: bool = False, gate: int = 0) -> tuple[RawServer, str]:
        rs = RawServer(answer, close_after_answer=close_after_answer, gate=gate)
        srv = await asyncio.start_server(rs.handle, "127.0.0.1", 0)
        servers.append(srv)
        port = srv.sockets[0].getsockname()[1]
        return rs, f"http://127.0.0.1:{port}/v1"

    yield start  # type: ignore[misc]
    for srv in servers:
        srv.close()
        await srv.wait_closed()


def request(text: str = "hello") -> LLMRequest:
    return LLMRequest(kind="test", messages=(Message("user", text),), agent_id="a1")


async def ask(url: str, n: int = 1, **kw: float) -> list[str]:
    model = OpenAIModel("raw", base_url=url, **kw)  # type: ignore[arg-type]
    try:
        return [(await model.complete(request(f"q{i}"))).text for i in range(n)]
    finally:
        await model.aclose()


async def test_calls_share_one_keep_alive_connection(raw) -> None:
    rs, url = await raw(lambda c, n, body: ok(completion(f"answer {n}")))
    assert await ask(url, 4) == ["answer 0", "answer 1", "answer 2", "answer 3"]
    assert rs.connections == 1
    sent = orjson.loads(rs.requests[0])
    assert sent["model"] == "raw" and sent["messages"] == [{"role": "user", "content": "q0"}]
    head = rs.heads[0].lower()
    assert head.startswith(b"post /v1/chat/completions http/1.1\r\n")
    assert b"authorization: bearer " in head and b"content-type: application/json" in head


async def test_chunked_answer_with_extension_and_trailer(raw) -> None:
    body = completion("chunked answer")
    half = len(body) // 2
    data = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        + b"%x;note=1\r\n%s\r\n" % (half, body[:half])
        + b"%X\r\n%s\r\n" % (len(body) - half, body[half:])
        + b"0\r\nX-Trailer: yes\r\n\r\n"
    )
    rs, url = await raw(lambda c, n, b: data)
    assert await ask(url, 2) == ["chunked answer", "chunked answer"]
    assert rs.connections == 1  # the chunked body ended where it said, so the connection was reused


async def test_gzip_answer_is_decoded(raw) -> None:
    packed = gzip.compress(completion("packed answer"))
    _, url = await raw(lambda c, n, b: ok(packed, "Content-Encoding: gzip"))
    assert await ask(url) == ["packed answer"]


async def test_answer_without_length_runs_to_the_close(raw) -> None:
    data = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n" + completion(
        "to the end"
    )
    rs, url = await raw(lambda c, n, b: data, close_after_answer=True)
    assert await ask(url, 2) == ["to the end", "to the end"]
    assert rs.connections == 2


async def test_stale_keep_alive_connection_is_replaced(raw) -> None:
    # The server drops each connection when its second request arrives, unanswered: what a
    # server's keep-alive timeout racing our next request looks like. The call goes through on
    # a new connection, once, with no error.
    rs, url = await raw(lambda c, n, b: ok(completion(f"conn {c}")) if n == 0 else None)
    assert await ask(url, 3) == ["conn 0", "conn 1", "conn 2"]
    assert rs.connections == 3
    assert len(rs.requests) == 5  # each later call was sent twice: on the dead and the new connection


async def test_a_call_is_resent_at_most_once_when_idle_connections_are_stale(raw) -> None:
    # Three idle connections, each of which the server drops at its next request: the call
    # tries one of them, then a new connection, not every idle one in turn.
    rs, url = await raw(lambda c, n, b: ok(completion(f"conn {c}")) if n == 0 else None, gate=3)
    model = OpenAIModel("raw", base_url=url)
    try:
        await asyncio.gather(*(model.complete(request(f"warm {i}")) for i in range(3)))
        assert rs.connections == 3
        assert (await model.complete(request("after"))).text == "conn 3"
    finally:
        await model.aclose()
    assert rs.connections == 4 and len(rs.requests) == 3 + 2


async def test_server_that_closes_at_once_is_a_retryable_error(raw) -> None:
    _, url = await raw(lambda c, n, b: None)
    with pytest.raises(LLMError, match="connection error") as e:
        await ask(url)
    assert e.value.retryable


async def test_interim_answer_is_skipped(raw) -> None:
    _, url = await raw(
        lambda c, n, b: b"HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n" + ok(completion("final"))
    )
    assert await ask(url) == ["final"]


@pytest.mark.parametrize(
    "data",
    [
        b"SMTP ready\r\n\r\n",
        b"HTTP/1.1 two hundred OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"cut": ',
        b"HTTP/1.1 200 OK\r\nX-Big: " + b"x" * 70_000 + b"\r\n\r\n",
    ],
)
async def test_broken_answer_is_a_retryable_connection_error(raw, data: bytes) -> None:
    _, url = await raw(lambda c, n, b: data, close_after_answer=True)
    with pytest.raises(LLMError, match="connection error") as e:
        await ask(url)
    assert e.value.retryable


async def test_http_error_status_keeps_its_meaning(raw) -> None:
    err = orjson.dumps({"error": {"message": "slow down", "type": "rate_limit"}})
    _, url = await raw(lambda c, n, b: ok(err, "Retry-After: 7").replace(b"200 OK", b"429 Too Many Requests"))
    with pytest.raises(LLMError, match="HTTP 429") as e:
        await ask(url)
    assert e.value.retryable and e.value.retry_after == 7


async def test_read_timeout_is_a_retryable_timeout(raw) -> None:
    def never(c: int, n: int, b: bytes) -> bytes:
        return b""  # sends nothing and keeps the connection open

    _, url = await raw(never)
    with pytest.raises(LLMError, match="timed out") as e:
        await ask(url, timeout_s=0.2)
    assert e.value.retryable


async def test_https_is_not_spoken() -> None:
    transport = StreamTransport()
    with pytest.raises(httpx.UnsupportedProtocol):
        await transport.handle_async_request(httpx.Request("POST", "https://example.invalid/v1/chat"))


async def test_closed_transport_keeps_no_connections(raw) -> None:
    rs, url = await raw(lambda c, n, b: ok(completion("x")))
    transport = StreamTransport()
    client = httpx.AsyncClient(transport=transport)
    r = await client.post(
        url + "/chat/completions", content=b"{}", headers={"Content-Type": "application/json"}
    )
    assert r.json()["choices"][0]["message"]["content"] == "x"
    assert transport.idle_connections() == 1
    await client.aclose()
    assert transport.idle_connections() == 0
    with pytest.raises(httpx.ConnectError):
        await transport.handle_async_request(httpx.Request("POST", url, content=b"{}"))
