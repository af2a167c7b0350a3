"""The LLM transport through the real `openai` SDK over HTTP to the local fake server.

No test waits on the wall clock to decide an outcome: retries use a recording sleep, the
per-minute limiter a fake clock, and assertions are on counts and recorded delays.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agent.interfaces import LLMError, LLMRequest, Message, Usage
from agent.llm.embedders import OpenAIEmbedder
from agent.llm.factory import ModelPool, build_model
from agent.llm.openai_client import OpenAIModel
from agent.llm.wrappers import CachingModel, CallRecord, LimitedModel, Limiter, RetryingModel, cache_key
from config.settings import LLMLimits, LLMProfile
from tests.fakes.openai_server import FakeOpenAIServer, Fault

ROOT = Path(__file__).resolve().parent.parent


class RecordingSleep:
    """A sleep that returns at once and remembers the delays asked for."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


class FakeClock:
    """A monotonic clock that only moves when its `sleep` is awaited."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        self.now += delay


def req(
    text: str = "hello",
    *,
    kind: str = "test",
    agent: str = "a1",
    schema: Mapping[str, Any] | None = None,
    max_tokens: int | None = None,
) -> LLMRequest:
    return LLMRequest(
        kind=kind,
        messages=(Message("system", "be brief"), Message("user", text)),
        agent_id=agent,
        schema=schema,
        max_tokens=max_tokens,
    )


@pytest.fixture
async def server() -> AsyncIterator[FakeOpenAIServer]:
    async with FakeOpenAIServer() as srv:
        yield srv


@pytest.fixture
async def model(server: FakeOpenAIServer) -> AsyncIterator[OpenAIModel]:
    m = OpenAIModel("fake-model", base_url=server.base_url, timeout_s=10)
    yield m
    await m.aclose()


def retrying(model: OpenAIModel, sleep: RecordingSleep, max_retries: int = 3) -> RetryingModel:
    return RetryingModel(model, max_retries=max_retries, rng=random.Random(7), sleep=sleep)


async def test_plain_completion_and_usage(server: FakeOpenAIServer, model: OpenAIModel) -> None:
    result = await model.complete(req("hello world", max_tokens=50))
    assert result.text == "echo: hello world"
    assert result.usage == Usage(prompt_tokens=4, completion_tokens=3)
    assert result.model == "fake-model"
    assert result.latency_s > 0 and not result.cached
    (body,) = server.chat_requests()
    assert body["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hello world"},
    ]
    assert body["max_tokens"] == 50 and body["temperature"] == 0.0
    assert "response_format" not in body


async def test_schema_asks_for_a_json_object(server: FakeOpenAIServer) -> None:
    model = OpenAIModel("fake-model", base_url=server.base_url, structured_output="json_object")
    result = await model.complete(req("hi", schema={"type": "object"}))
    await model.aclose()
    assert json.loads(result.text) == {"echo": "hi"}
    assert server.chat_requests()[0]["response_format"] == {"type": "json_object"}


async def test_malformed_answer_is_returned_as_text(server: FakeOpenAIServer, model: OpenAIModel) -> None:
    server.inject("malformed")
    result = await model.complete(req("hi", schema={"type": "object"}))
    with pytest.raises(json.JSONDecodeError):
        json.loads(result.text)  # parsing (and re-asking) is the caller's job, not the transport's


async def test_429_honours_retry_after(server: FakeOpenAIServer, model: OpenAIModel) -> None:
    server.inject(Fault("429", retry_after=7))
    sleep = RecordingSleep()
    result = await retrying(model, sleep).complete(req())
    assert result.text == "echo: hello"
    assert server.served == 2
    assert len(sleep.delays) == 1 and sleep.delays[0] >= 7


async def test_429_surfaces_retry_after_on_the_error(server: FakeOpenAIServer, model: OpenAIModel) -> None:
    server.inject(Fault("429", retry_after=2.5))
    with pytest.raises(LLMError) as info:
        await model.complete(req())
    assert info.value.retryable and info.value.retry_after == 2.5


async def test_500_burst_is_retried_and_bounded(server: FakeOpenAIServer, model: OpenAIModel) -> None:
    server.inject(*["500"] * 5)
    sleep = RecordingSleep()
    with pytest.raises(LLMError) as info:
        await retrying(model, sleep, max_retries=2).complete(req())
    assert info.value.retryable and "500" in str(info.value)
    assert server.served == 3  # one try and two retries, then it gives up
    assert len(sleep.delays) == 2
    assert 0.25 <= sleep.delays[0] <= 0.5 and 0.5 <= sleep.delays[1] <= 1.0  # exponential with jitter


async def test_short_500_burst_recovers(server: FakeOpenAIServer, model: OpenAIModel) -> None:
    server.inject("500", "503")
    sleep = RecordingSleep()
    assert (await retrying(model, sleep).complete(req())).text == "echo: hello"
    assert server.served == 3 and len(sleep.delays) == 2


async def test_timeout_is_retried() -> None:
    async with FakeOpenAIServer(hang_s=30) as srv:
        srv.inject("timeout")
        m = OpenAIModel("fake-model", base_url=srv.base_url, timeout_s=0.3)
        sleep = RecordingSleep()
        try:
            assert (await retrying(m, sleep).complete(req())).text == "echo: hello"
        finally:
            await m.aclose()
        assert srv.served == 2 and len(sleep.delays) == 1


async def test_400_is_not_retried(server: FakeOpenAIServer, model: OpenAIModel) -> None:
    server.inject("400")
    sleep = RecordingSleep()
    with pytest.raises(LLMError) as info:
        await retrying(model, sleep).complete(req())
    assert not info.value.retryable
    assert server.served == 1 and sleep.delays == []


async def test_connection_refused_is_retryable(server: FakeOpenAIServer) -> None:
    url = server.base_url
    await server.stop()
    m = OpenAIModel("fake-model", base_url=url, timeout_s=5)
    try:
        with pytest.raises(LLMError) as info:
            await m.complete(req())
    finally:
        await m.aclose()
    assert info.value.retryable


async def test_limiter_caps_concurrency_at_the_server() -> None:
    async with FakeOpenAIServer(latency=0.05) as srv:
        limiter = Limiter(concurrency=3)
        base = OpenAIModel("fake-model", base_url=srv.base_url, connections=16)
        m = LimitedModel(base, limiter)
        try:
            async with asyncio.TaskGroup() as tg:
                for i in range(12):
                    tg.create_task(m.complete(req(f"q{i}")))
        finally:
            await m.aclose()
        assert srv.served == 12
        assert srv.max_in_flight == 3 and limiter.max_in_flight == 3
        assert limiter.in_flight == 0


async def test_limiter_caps_requests_per_minute(server: FakeOpenAIServer, model: OpenAIModel) -> None:
    clock = FakeClock()
    limiter = Limiter(concurrency=8, requests_per_minute=5, clock=clock, sleep=clock.sleep)
    m = LimitedModel(model, limiter)
    async with asyncio.TaskGroup() as tg:
        for i in range(8):
            tg.create_task(m.complete(req(f"q{i}")))
    assert server.served == 8
    # a burst of 5, then one request every 12 s: the last 3 waited 12 s each
    assert clock.now == pytest.approx(36.0)
    assert limiter.waited_s == pytest.approx(36.0)


async def test_cache_records_then_replays_offline(tmp_path: Path) -> None:
    asked: dict[str, int] = {}

    def responder(body: dict[str, Any]) -> str:
        last = body["messages"][-1]["content"]
        asked[last] = asked.get(last, 0) + 1
        return f"answer {asked[last]} to {last}"

    prompts = ["a", "b", "a", "a", "b"]
    async with FakeOpenAIServer(responder=responder) as srv:
        recorder = CachingModel(OpenAIModel("fake-model", base_url=srv.base_url), tmp_path, "record")
        recorded = [await recorder.complete(req(p)) for p in prompts]
        await recorder.aclose()
        url = srv.base_url
    assert [r.text for r in recorded] == [
        "answer 1 to a",
        "answer 1 to b",
        "answer 2 to a",
        "answer 3 to a",
        "answer 2 to b",
    ]

    # the server is gone: every answer must come from disk, in the recorded order
    replayer = CachingModel(OpenAIModel("fake-model", base_url=url), tmp_path, "replay")
    try:
        replayed = [await replayer.complete(req(p)) for p in prompts]
        assert [(r.text, r.usage) for r in replayed] == [(r.text, r.usage) for r in recorded]
        assert all(r.cached for r in replayed)
        with pytest.raises(LLMError) as info:  # a fourth "a" was never recorded
            await replayer.complete(req("a"))
    finally:
        await replayer.aclose()
    assert not info.value.retryable
    assert cache_key("fake-model", req("a")) in str(info.value) and "occurrence 4" in str(info.value)


async def test_replay_miss_names_the_key(
    tmp_path: Path, model: OpenAIModel, server: FakeOpenAIServer
) -> None:
    replayer = CachingModel(model, tmp_path, "replay")
    with pytest.raises(LLMError, match="cache miss in replay mode") as info:
        await replayer.complete(req("never recorded"))
    assert cache_key("fake-model", req("never recorded")) in str(info.value)
    assert server.served == 0


async def test_built_model_meters_every_call(server: FakeOpenAIServer) -> None:
    records: list[CallRecord] = []
    profile = LLMProfile(provider="openai", model="fake-model", base_url=server.base_url, max_retries=0)
    m = build_model(
        profile,
        limiter=Limiter(4),
        limits=LLMLimits(),
        sink=records.append,
        scripted_factory=None,
        rng=random.Random(1),
    )
    server.inject("400")
    try:
        with pytest.raises(LLMError):
            await m.complete(req("first", agent="a1"))
        await m.complete(req("second one", agent="a2", kind="chat"))
        await m.complete(req("third", agent="a2"))
    finally:
        await m.aclose()
    assert [(r.agent_id, r.kind, r.ok) for r in records] == [
        ("a1", "test", False),
        ("a2", "chat", True),
        ("a2", "test", True),
    ]
    assert records[0].error and "400" in records[0].error
    assert records[1].prompt_tokens == 4 and records[1].completion_tokens == 3
    totals = m.totals  # type: ignore[attr-defined]
    assert (totals.calls, totals.failures, totals.cached) == (3, 1, 0)
    assert totals.total_tokens == sum(r.prompt_tokens + r.completion_tokens for r in records)


async def test_model_pool_shares_and_closes(server: FakeOpenAIServer) -> None:
    profiles = {
        "default": LLMProfile(provider="openai", model="fake-model", base_url=server.base_url),
        "other": LLMProfile(provider="openai", model="other-model", base_url=server.base_url),
    }
    pool = ModelPool(
        lambda name: profiles[name or "default"],
        limits=LLMLimits(concurrency=2),
        sink=None,
        scripted_factory=None,
        rng=random.Random(1),
    )
    assert pool.model(None) is pool.model("default")
    assert pool.model("other") is not pool.model("default")
    assert (await pool.model("other").complete(req())).model == "other-model"
    with pytest.raises(KeyError):
        pool.model("nobody")
    await pool.aclose()


async def test_openai_embedder(server: FakeOpenAIServer) -> None:
    emb = OpenAIEmbedder("fake-embed", base_url=server.base_url)
    try:
        vecs = await emb.embed(["the bakery", "", "the bakery"])
    finally:
        await emb.aclose()
    assert vecs.shape == (3, 64) and vecs.dtype == np.float32 and emb.dim == 64
    assert np.linalg.norm(vecs[0]) == pytest.approx(1.0, abs=1e-5)
    assert not vecs[1].any()  # empty text: zero row, not sent
    assert np.array_equal(vecs[0], vecs[2])
    (request,) = server.requests
    assert request.path == "/v1/embeddings" and request.body["input"] == ["the bakery", "the bakery"]


async def test_fake_server_serves_many_requests_at_once() -> None:
    async with FakeOpenAIServer(latency=1.0, record=False) as srv:
        m = OpenAIModel("fake-model", base_url=srv.base_url, connections=200)
        try:
            async with asyncio.TaskGroup() as tg:
                for i in range(200):
                    tg.create_task(m.complete(req(f"q{i}")))
        finally:
            await m.aclose()
        assert srv.served == 200 and srv.max_in_flight > 100  # they overlap, not queue


async def test_fake_server_runs_in_a_thread() -> None:
    srv = FakeOpenAIServer(latency=0.01)
    url, stop = srv.run_in_thread()
    m = OpenAIModel("fake-model", base_url=url)
    try:
        assert (await m.complete(req("from a thread"))).text == "echo: from a thread"
    finally:
        await m.aclose()
        await asyncio.to_thread(stop)
    assert srv.served == 1


async def test_fake_server_command_line() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.fakes.openai_server",
        "--port",
        "0",
        "--latency",
        "0.01",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    try:
        url = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode().strip()
        m = OpenAIModel("fake-model", base_url=url)
        try:
            assert (await m.complete(req("cli"))).text == "echo: cli"
        finally:
            await m.aclose()
    finally:
        proc.terminate()
        assert await proc.wait() == 0


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
async def test_server_log_at_info_has_no_line_per_http_request(
    server: FakeOpenAIServer, model: OpenAIModel, caplog: pytest.LogCaptureFixture, level: str
) -> None:
    """The HTTP libraries under the SDK log every request at INFO; the server's log level INFO
    keeps them out (thousands of lines a tick), DEBUG lets them in."""
    import logging

    from server.app import CHATTY_LOGGERS, configure_logging

    configure_logging(level)
    try:
        with caplog.at_level(logging.DEBUG if level == "DEBUG" else logging.INFO):
            await model.complete(req())
        http_lines = [r for r in caplog.records if r.name.split(".")[0] in CHATTY_LOGGERS]
        assert bool(http_lines) == (level == "DEBUG")
    finally:
        for name in CHATTY_LOGGERS:
            logging.getLogger(name).setLevel(logging.NOTSET)
