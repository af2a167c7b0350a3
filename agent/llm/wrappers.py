"""Wrappers that keep the `LanguageModel` protocol around an inner model (the record/replay
cache is in `agent.llm.cache`).

- `RetryingModel`: retries retryable `LLMError`s with capped exponential backoff and jitter;
- `Limiter` / `LimitedModel`: one shared concurrency cap plus request and token buckets per minute;
- `MeteredModel`: hands a `CallRecord` of every call to a sink and keeps running totals.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from agent.interfaces import LanguageModel, LLMError, LLMRequest, LLMResult
from agent.llm.cache import CACHE_MODES, CacheMode, CachingModel, cache_key
from config.settings import LLMLimits

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]


# ----------------------------------------------------------------------------- retry


MAX_BACKOFF_S = 20.0  # the longest wait before one retry (Retry-After is honoured up to this)


class RetryingModel:
    """Retries retryable failures up to `max_retries` times, then re-raises the last error.

    The delay before retry `i` (0-based) is `min(max_delay, base_delay * 2**i)` with equal jitter
    (half fixed, half drawn from `rng`); a server's `retry_after` wins when it is longer.
    """

    def __init__(
        self,
        inner: LanguageModel,
        *,
        max_retries: int,
        rng: random.Random,
        base_delay: float = 0.5,
        max_delay: float = MAX_BACKOFF_S,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if max_retries < 0 or base_delay < 0 or max_delay < 0:
            raise ValueError("max_retries, base_delay and max_delay must not be negative")
        self.inner = inner
        self.name = inner.name
        self.max_retries = max_retries
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._rng = rng
        self._sleep = sleep

    def backoff(self, attempt: int) -> float:
        """The jittered delay before retry number `attempt` (0-based)."""
        cap = min(self.max_delay, self.base_delay * 2 ** min(attempt, 32))
        return cap / 2 + self._rng.random() * cap / 2

    async def complete(self, request: LLMRequest) -> LLMResult:
        """The inner answer, retrying retryable errors."""
        attempt = 0
        while True:
            try:
                return await self.inner.complete(request)
            except LLMError as err:
                if not err.retryable or attempt >= self.max_retries:
                    raise
                delay = self.backoff(attempt)
                if err.retry_after is not None:
                    delay = max(err.retry_after, delay)
                attempt += 1
                log.info(
                    "agent %s: %s failed (%s); retry %d/%d in %.2fs",
                    request.agent_id,
                    request.kind,
                    err,
                    attempt,
                    self.max_retries,
                    delay,
                )
                await self._sleep(delay)

    async def aclose(self) -> None:
        """Close the inner model."""
        await self.inner.aclose()


# --------------------------------------------------------------------------- limiter


@dataclass(slots=True)
class _Bucket:
    """A token bucket refilled continuously at `rate` per second up to `capacity`."""

    rate: float
    capacity: float
    level: float
    stamp: float

    def refill(self, now: float) -> None:
        self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait_for(self, amount: float) -> float:
        return 0.0 if self.level >= amount else (amount - self.level) / self.rate


def _per_minute(limit: int, now: float) -> _Bucket | None:
    """A full bucket holding one minute's allowance, or None for no limit."""
    return _Bucket(limit / 60, limit, limit, now) if limit else None


def estimate_tokens(request: LLMRequest) -> int:
    """A rough upper guess of a call's tokens before it is made (4 characters a token)."""
    chars = sum(len(m.content) + 16 for m in request.messages)
    return chars // 4 + 1 + (request.max_tokens or 0)


class Limiter:
    """The model limiter one server shares across all agents and models.

    At most `concurrency` calls are in flight; `requests_per_minute` and `tokens_per_minute`
    (0 = unlimited) are token buckets holding one minute's allowance. Tokens are reserved from an
    estimate when a call starts and settled against the real usage when it ends. `hold(s)` keeps
    every new call waiting `s` seconds (a server presumed still busy with a call we gave up on).
    """

    def __init__(
        self,
        concurrency: int,
        requests_per_minute: int = 0,
        tokens_per_minute: int = 0,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if concurrency < 1 or requests_per_minute < 0 or tokens_per_minute < 0:
            raise ValueError("concurrency must be >= 1 and the per-minute limits >= 0")
        self.concurrency = concurrency
        self._slots = asyncio.Semaphore(concurrency)
        self._rate_lock = asyncio.Lock()  # FIFO: callers pass the buckets in arrival order
        self._clock = clock
        self._sleep = sleep
        self._requests = _per_minute(requests_per_minute, clock())
        self._tokens = _per_minute(tokens_per_minute, clock())
        self.in_flight = 0
        self.max_in_flight = 0
        self.waited_s = 0.0  # total time callers slept on the per-minute buckets
        self.held_until = 0.0  # on `clock`: no call starts before this
        self.holds = 0

    @classmethod
    def from_limits(cls, limits: LLMLimits) -> Limiter:
        """The limiter the settings describe."""
        return cls(limits.concurrency, limits.requests_per_minute, limits.tokens_per_minute)

    async def acquire(self, tokens: int) -> int:
        """Wait for a slot and the per-minute allowance; returns the tokens reserved."""
        await self._slots.acquire()
        try:
            while (wait := self.held_until - self._clock()) > 0:  # a hold may grow meanwhile
                await self._sleep(wait)
            reserved = await self._take(tokens)
        except BaseException:
            self._slots.release()
            raise
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        return reserved

    def hold(self, seconds: float) -> None:
        """Start no call for `seconds` from now (longer holds win)."""
        self.holds += 1
        self.held_until = max(self.held_until, self._clock() + seconds)

    def release(self, reserved: int, used: int | None) -> None:
        """Free the slot; settle the reservation against `used` tokens (None: keep it all)."""
        self.in_flight -= 1
        if self._tokens is not None and used is not None:
            # a refund, or a debt that later callers wait off
            self._tokens.level = min(self._tokens.capacity, self._tokens.level + reserved - used)
        self._slots.release()

    async def _take(self, tokens: int) -> int:
        if self._requests is None and self._tokens is None:
            return 0
        reserved = min(tokens, int(self._tokens.capacity)) if self._tokens else 0
        async with self._rate_lock:
            while True:
                now = self._clock()
                wait = 0.0
                for bucket, amount in ((self._requests, 1), (self._tokens, reserved)):
                    if bucket is not None:
                        bucket.refill(now)
                        wait = max(wait, bucket.wait_for(amount))
                if wait <= 1e-9:
                    if self._requests is not None:
                        self._requests.level -= 1
                    if self._tokens is not None:
                        self._tokens.level -= reserved
                    return reserved
                self.waited_s += wait
                await self._sleep(wait)


class LimitedModel:
    """Passes every call through a shared `Limiter`. With `hold_on_timeout_s`, a call that timed
    out (the server may still be working on it) holds the limiter's next calls that long, so
    neither its retry nor the queue behind it is sent onto a server still busy with it."""

    def __init__(self, inner: LanguageModel, limiter: Limiter, *, hold_on_timeout_s: float = 0.0) -> None:
        self.inner = inner
        self.name = inner.name
        self.limiter = limiter
        self.hold_on_timeout_s = hold_on_timeout_s

    async def complete(self, request: LLMRequest) -> LLMResult:
        """The inner answer, once the limiter lets the call through."""
        reserved = await self.limiter.acquire(estimate_tokens(request))
        used: int | None = None
        try:
            result = await self.inner.complete(request)
            used = result.usage.total
            return result
        except (LLMError, asyncio.CancelledError) as err:  # cancelled: the caller's timeout
            if self.hold_on_timeout_s > 0 and (isinstance(err, asyncio.CancelledError) or err.timed_out):
                self.limiter.hold(self.hold_on_timeout_s)
                log.info(
                    "agent %s: %s given up while the server works on it; no call to %s for %.0fs",
                    request.agent_id,
                    request.kind,
                    self.name,
                    self.hold_on_timeout_s,
                )
            raise
        finally:
            self.limiter.release(reserved, used)

    async def aclose(self) -> None:
        """Close the inner model."""
        await self.inner.aclose()


# ----------------------------------------------------------------------------- meter


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One model call as metered: who asked what, the tokens, the time taken and the outcome."""

    agent_id: str | None
    kind: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    latency_s: float  # wall time the caller waited, limiter and retries included
    ok: bool
    cached: bool
    error: str | None = None
    cost_usd: float = 0.0  # at the profile's prices; 0 when unpriced, failed or cached
    prefix_tokens: int = 0  # prompt tokens in the prefix repeated from the agent's previous call


@dataclass(frozen=True, slots=True)
class MeterTotals:
    """Running totals of a `MeteredModel`."""

    calls: int = 0
    failures: int = 0
    cached: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add(self, r: CallRecord) -> MeterTotals:
        """These totals plus one call."""
        return MeterTotals(
            self.calls + 1,
            self.failures + (not r.ok),
            self.cached + r.cached,
            self.prompt_tokens + r.prompt_tokens,
            self.completion_tokens + r.completion_tokens,
            self.latency_s + r.latency_s,
        )


class MeteredModel:
    """Hands a `CallRecord` of every call to `sink` and keeps running `totals`. `prices` are US
    dollars per million prompt and completion tokens."""

    def __init__(
        self,
        inner: LanguageModel,
        sink: Callable[[CallRecord], None] | None = None,
        *,
        clock: Clock = time.perf_counter,
        prices: tuple[float, float] = (0.0, 0.0),
    ) -> None:
        self.inner = inner
        self.name = inner.name
        self.totals = MeterTotals()
        self._sink = sink
        self._clock = clock
        self._prices = prices

    async def complete(self, request: LLMRequest) -> LLMResult:
        """The inner answer; the call is recorded whether it succeeds or fails."""
        started = self._clock()
        try:
            result = await self.inner.complete(request)
        except (Exception, asyncio.CancelledError) as exc:  # a cancelled call is a timed-out one
            spent = None
            if isinstance(exc, LLMError):
                error = str(exc)
                spent = exc.usage  # an answer cut at max_tokens still cost its tokens
            elif isinstance(exc, asyncio.CancelledError):
                error = "cancelled (timed out or shut down)"
            else:
                error = f"{type(exc).__name__}: {exc}"
            self._record(
                CallRecord(
                    request.agent_id,
                    request.kind,
                    self.name,
                    spent.prompt_tokens if spent else 0,
                    spent.completion_tokens if spent else 0,
                    self._clock() - started,
                    ok=False,
                    cached=False,
                    error=error,
                )
            )
            raise
        usage = result.usage
        cost = (
            0.0
            if result.cached
            else (usage.prompt_tokens * self._prices[0] + usage.completion_tokens * self._prices[1]) / 1e6
        )
        self._record(
            CallRecord(
                request.agent_id,
                request.kind,
                result.model or self.name,
                usage.prompt_tokens,
                usage.completion_tokens,
                self._clock() - started,
                ok=True,
                cached=result.cached,
                cost_usd=cost,
                prefix_tokens=round(usage.prompt_tokens * request.shared_prefix),
            )
        )
        return result

    def _record(self, record: CallRecord) -> None:
        self.totals = self.totals.add(record)
        if self._sink is None:
            return
        try:
            self._sink(record)
        except Exception:
            log.exception("agent %s: the LLM call sink failed on a %s record", record.agent_id, record.kind)

    async def aclose(self) -> None:
        """Close the inner model."""
        await self.inner.aclose()


__all__ = ["CACHE_MODES", "CacheMode", "CachingModel", "cache_key"]  # re-exported from agent.llm.cache
