"""The model wrappers against a hand-written fake inner model (no network)."""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections import deque
from pathlib import Path

import pytest

from agent.interfaces import LLMError, LLMRequest, LLMResult, Message, Usage
from agent.llm.factory import build_model
from agent.llm.wrappers import (
    CachingModel,
    CallRecord,
    LimitedModel,
    Limiter,
    MeteredModel,
    RetryingModel,
    cache_key,
)
from config.settings import LLMLimits, LLMProfile
from tests.test_llm_transport import FakeClock, RecordingSleep


class FakeModel:
    """Answers from a queue of outcomes (text or exception); then echoes. Records requests."""

    def __init__(self, *outcomes: str | Exception, name: str = "fake", tokens: int = 3) -> None:
        self.name = name
        self.outcomes: deque[str | Exception] = deque(outcomes)
        self.requests: list[LLMRequest] = []
        self.tokens = tokens
        self.closed = 0

    async def complete(self, request: LLMRequest) -> LLMResult:
        self.requests.append(request)
        outcome = self.outcomes.popleft() if self.outcomes else f"echo {request.messages[-1].content}"
        if isinstance(outcome, Exception):
            raise outcome
        return LLMResult(outcome, Usage(self.tokens, self.tokens), model=self.name, latency_s=0.01)

    async def aclose(self) -> None:
        self.closed += 1


def req(text: str = "hi", *, agent: str = "a1", temperature: float = 0.0) -> LLMRequest:
    return LLMRequest("test", (Message("user", text),), agent_id=agent, temperature=temperature)


# ----------------------------------------------------------------------------- retry


def test_backoff_is_exponential_capped_and_seeded() -> None:
    def delays(seed: int) -> list[float]:
        m = RetryingModel(FakeModel(), max_retries=9, base_delay=0.5, max_delay=4.0, rng=random.Random(seed))
        return [m.backoff(i) for i in range(6)]

    assert delays(3) == delays(3)
    for i, d in enumerate(delays(3)):
        cap = min(4.0, 0.5 * 2**i)
        assert cap / 2 <= d <= cap


async def test_retry_after_wins_when_longer_and_backoff_when_shorter() -> None:
    inner = FakeModel(
        LLMError("slow down", retryable=True, retry_after=30.0),
        LLMError("slow down", retryable=True, retry_after=0.01),
        "ok",
    )
    sleep = RecordingSleep()
    m = RetryingModel(inner, max_retries=5, base_delay=1.0, rng=random.Random(0), sleep=sleep)
    assert (await m.complete(req())).text == "ok"
    assert sleep.delays[0] == 30.0
    assert 1.0 <= sleep.delays[1] <= 2.0  # the backoff of retry 2 beats a 0.01 s hint


async def test_only_llm_errors_are_retried() -> None:
    sleep = RecordingSleep()
    m = RetryingModel(FakeModel(ValueError("bug")), max_retries=3, rng=random.Random(0), sleep=sleep)
    with pytest.raises(ValueError):
        await m.complete(req())
    assert sleep.delays == []


# --------------------------------------------------------------------------- limiter


async def test_tokens_per_minute_are_settled_against_real_usage() -> None:
    clock = FakeClock()
    limiter = Limiter(4, tokens_per_minute=100, clock=clock, sleep=clock.sleep)
    m = LimitedModel(FakeModel(tokens=25), limiter)  # 50 tokens a call, far above the estimate
    for i in range(6):
        await m.complete(req(f"q{i}"))
        # what was spent before this call never exceeds the bucket plus its refill
        assert 50 * i <= 100 + clock.now * 100 / 60 + 1e-6
    assert clock.now > 0 and limiter.in_flight == 0


async def test_cancelled_waiter_gives_its_slot_back() -> None:
    gate = asyncio.Event()

    class Blocking(FakeModel):
        async def complete(self, request: LLMRequest) -> LLMResult:
            await gate.wait()
            return await super().complete(request)

    limiter = Limiter(1)
    m = LimitedModel(Blocking(), limiter)
    first = asyncio.create_task(m.complete(req("1")))
    second = asyncio.create_task(m.complete(req("2")))
    await asyncio.sleep(0)
    second.cancel()
    gate.set()
    assert (await first).text == "echo 1"
    with pytest.raises(asyncio.CancelledError):
        await second
    assert limiter.in_flight == 0
    assert (await m.complete(req("3"))).text == "echo 3"


def test_limiter_rejects_bad_limits() -> None:
    with pytest.raises(ValueError):
        Limiter(0)
    assert Limiter.from_limits(LLMLimits(concurrency=5)).concurrency == 5


# ----------------------------------------------------------------------------- cache


def test_cache_key_covers_the_request() -> None:
    assert cache_key("m", req("x")) == cache_key("m", req("x"))
    others = {
        cache_key("m2", req("x")),
        cache_key("m", req("y")),
        cache_key("m", req("x", agent="a2")),
        cache_key("m", req("x", temperature=0.5)),
        cache_key("m", req("x")),
    }
    assert len(others) == 5


async def test_auto_replays_what_it_has_and_records_the_rest(tmp_path: Path) -> None:
    first = CachingModel(FakeModel("one"), tmp_path, "auto")
    assert (await first.complete(req("q"))).text == "one"
    inner = FakeModel("two")
    second = CachingModel(inner, tmp_path, "auto")
    hit = await second.complete(req("q"))
    assert (hit.text, hit.cached, hit.usage) == ("one", True, Usage(3, 3))
    assert (await second.complete(req("q"))).text == "two"  # occurrence 2 was not recorded yet
    assert len(inner.requests) == 1
    key = cache_key("fake", req("q"))
    doc = json.loads((tmp_path / key[:2] / f"{key}.json").read_text())
    assert [e["text"] for e in doc["entries"]] == ["one", "two"]
    assert [p.name for p in (tmp_path / key[:2]).iterdir()] == [f"{key}.json"]  # no temp files left


async def test_record_overwrites_an_earlier_run(tmp_path: Path) -> None:
    await CachingModel(FakeModel("old", "old2"), tmp_path, "record").complete(req())
    await CachingModel(FakeModel("new"), tmp_path, "record").complete(req())
    replay = CachingModel(FakeModel(), tmp_path, "replay")
    assert (await replay.complete(req())).text == "new"
    with pytest.raises(LLMError, match="occurrence 2"):
        await replay.complete(req())


async def test_a_recorded_failure_replays_as_that_failure(tmp_path: Path) -> None:
    recorder = CachingModel(FakeModel(LLMError("HTTP 500", retryable=True), "fine"), tmp_path, "record")
    with pytest.raises(LLMError):
        await recorder.complete(req())
    assert (await recorder.complete(req())).text == "fine"

    replay = CachingModel(FakeModel(), tmp_path, "replay")
    with pytest.raises(LLMError, match="HTTP 500") as info:
        await replay.complete(req())
    assert not info.value.retryable
    assert (await replay.complete(req())).text == "fine"

    inner = FakeModel("healed")  # auto mode tries a recorded failure again
    assert (await CachingModel(inner, tmp_path, "auto").complete(req())).text == "healed"


async def test_off_mode_passes_through(tmp_path: Path) -> None:
    m = CachingModel(FakeModel("x"), tmp_path / "cache", "off")
    assert not (await m.complete(req())).cached
    assert not (tmp_path / "cache").exists()
    with pytest.raises(ValueError, match="cache mode"):
        CachingModel(FakeModel(), tmp_path, "sometimes")  # type: ignore[arg-type]


async def test_corrupt_cache_file_is_a_clear_error(tmp_path: Path) -> None:
    key = cache_key("fake", req())
    (tmp_path / key[:2]).mkdir()
    (tmp_path / key[:2] / f"{key}.json").write_text("{not json")
    with pytest.raises(LLMError, match="cannot be read"):
        await CachingModel(FakeModel(), tmp_path, "replay").complete(req())


# ----------------------------------------------------------------------------- meter


async def test_meter_records_and_totals(tmp_path: Path) -> None:
    records: list[CallRecord] = []
    cache = CachingModel(FakeModel("a", LLMError("nope"), tokens=5), tmp_path, "auto")
    m = MeteredModel(cache, records.append)
    await m.complete(req("x"))
    with pytest.raises(LLMError):
        await m.complete(req("y"))
    replayed = MeteredModel(CachingModel(FakeModel(), tmp_path, "auto"), records.append)
    await replayed.complete(req("x"))
    assert [(r.ok, r.cached, r.error) for r in records] == [
        (True, False, None),
        (False, False, "nope"),
        (True, True, None),
    ]
    assert (m.totals.calls, m.totals.failures, m.totals.total_tokens) == (2, 1, 10)
    assert replayed.totals.cached == 1
    with pytest.raises(AttributeError):
        records[0].ok = False  # type: ignore[misc]


async def test_meter_prices_answered_calls_only(tmp_path: Path) -> None:
    """Cost = tokens at the per-million prices; a failed or cache-replayed call costs nothing."""
    records: list[CallRecord] = []
    prices = (3.0, 15.0)
    m = MeteredModel(
        CachingModel(FakeModel("a", LLMError("down"), tokens=1000), tmp_path, "auto"),
        records.append,
        prices=prices,
    )
    await m.complete(req("x"))
    with pytest.raises(LLMError):
        await m.complete(req("y"))
    await MeteredModel(CachingModel(FakeModel(), tmp_path, "auto"), records.append, prices=prices).complete(
        req("x")
    )
    assert [r.cost_usd for r in records] == [pytest.approx(0.018), 0.0, 0.0]


@pytest.mark.allow_error_logs
async def test_a_failing_sink_does_not_fail_the_call(caplog: pytest.LogCaptureFixture) -> None:
    def sink(record: CallRecord) -> None:
        raise RuntimeError("database down")

    with caplog.at_level(logging.ERROR):
        assert (await MeteredModel(FakeModel("ok"), sink).complete(req())).text == "ok"
    assert "sink failed" in caplog.text


# ---------------------------------------------------------------------------- factory


def _json_files(root: Path) -> list[Path]:
    return list(root.rglob("*.json"))


async def test_scripted_profile_is_limited_cached_and_metered(tmp_path: Path) -> None:
    records: list[CallRecord] = []
    inner = FakeModel("scripted answer", name="scripted")
    limits = LLMLimits(cache_mode="auto", cache_dir=str(tmp_path))
    limiter = Limiter(2)
    m = build_model(
        LLMProfile(),
        limiter=limiter,
        limits=limits,
        sink=records.append,
        scripted_factory=lambda: inner,
        rng=random.Random(0),
    )
    assert (await m.complete(req())).text == "scripted answer"
    assert len(records) == 1 and records[0].model == "scripted" and limiter.max_in_flight == 1
    assert _json_files(tmp_path)
    await m.aclose()
    assert inner.closed == 1
    with pytest.raises(ValueError, match="scripted_factory"):
        build_model(
            LLMProfile(),
            limiter=limiter,
            limits=limits,
            sink=None,
            scripted_factory=None,
            rng=random.Random(0),
        )


async def test_a_timed_out_call_is_metered_as_a_failure() -> None:
    class Hanging(FakeModel):
        async def complete(self, request: LLMRequest) -> LLMResult:
            await asyncio.Event().wait()
            raise AssertionError("unreachable")

    records: list[CallRecord] = []
    m = MeteredModel(Hanging(), records.append)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.01):
            await m.complete(req())
    assert [(r.ok, r.error) for r in records] == [(False, "cancelled (timed out or shut down)")]
