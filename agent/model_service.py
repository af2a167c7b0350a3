"""The model service: owns the model pool, the shared limiter, prompts and embedders, builds each
agent's Mind for a step and meters the calls. One per server, built by `run_town` and closed
with it."""

from __future__ import annotations

import contextlib
import contextvars
import logging
import random
from collections.abc import Iterator
from dataclasses import dataclass, field

from agent.llm.factory import ModelPool
from agent.llm.scripted import ScriptedModel
from agent.llm.wrappers import MAX_BACKOFF_S, CallRecord
from agent.mind import AgentMind
from agent.prompts import PromptBook
from agent.state import AgentRecord
from config.settings import Settings

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Meter:
    """The metered calls and model failures of one unit of work (a tick, a player's chat)."""

    calls: list[CallRecord] = field(default_factory=list)
    failures: list[tuple[str, str, str]] = field(default_factory=list)  # (agent id, kind, reason)


# The meter of the work running in this task; tasks started inside inherit it (asyncio copies
# the context), so a tick's agent steps meter into the tick's and a chat's into the chat's.
_METER: contextvars.ContextVar[Meter | None] = contextvars.ContextVar("town_meter", default=None)


class ModelService:
    """Builds minds and meters their calls, apart for each tick or chat running (`metering`)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.unmetered = Meter()  # calls made outside any `metering()` block
        self.prompts = PromptBook()
        self.last_prompts: dict[str, str] = {}  # agent id -> its previous prompt (prefix share)
        seed = settings.seed
        self.pool = ModelPool(
            settings.profile,
            limits=settings.llm_limits,
            sink=self._record,
            scripted_factory=lambda: ScriptedModel(seed),
            rng=random.Random(seed ^ 0x5EED),
        )

    def mind(self, a: AgentRecord) -> AgentMind:
        """A fresh Mind for one step of `a`."""
        aid = a.id
        profile = self.settings.profile(a.llm)

        def failed(kind: str, reason: str) -> None:
            (_METER.get() or self.unmetered).failures.append((aid, kind, reason))

        return AgentMind(
            aid,
            self.pool.model(a.llm),
            self.pool.embedder(a.llm),
            self.prompts,
            # every attempt may take the full timeout, and every retry may first wait its backoff
            call_timeout_s=profile.timeout_s * (1 + profile.max_retries)
            + profile.max_retries * MAX_BACKOFF_S,
            on_failure=failed,
            last_prompts=self.last_prompts,
        )

    def _record(self, call: CallRecord) -> None:
        (_METER.get() or self.unmetered).calls.append(call)

    @contextlib.contextmanager
    def metering(self) -> Iterator[Meter]:
        """Meter the calls made inside this block, and in tasks started inside it, apart from any
        other work running at the same time (a chat during a tick keeps its calls to itself)."""
        meter = Meter()
        token = _METER.set(meter)
        try:
            yield meter
        finally:
            _METER.reset(token)

    def drain(self) -> tuple[list[CallRecord], list[tuple[str, str, str]]]:
        """Take the calls and failures made outside any `metering()` block."""
        m, self.unmetered = self.unmetered, Meter()
        return m.calls, m.failures

    async def aclose(self) -> None:
        await self.pool.aclose()
