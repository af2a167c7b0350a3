"""The Brain: owns the model pool, the shared limiter, prompts and embedders, and builds each
agent's Mind for a step. One per server, built by `main()` and closed with it."""

from __future__ import annotations

import logging
import random
from typing import Any

from agent.interfaces import LanguageModel
from agent.llm.factory import ModelPool
from agent.llm.scripted import ScriptedModel
from agent.llm.wrappers import MAX_BACKOFF_S, CallRecord
from agent.mind import AgentMind
from agent.prompts import PromptBook
from agent.registry import plugin_registry
from agent.state import AgentRecord
from config.settings import Settings

log = logging.getLogger(__name__)


def build_plugins() -> Any:
    """The plan/memory plug-in registry, built once at start-up."""
    return plugin_registry()


class Brain:
    """Builds minds and collects the metered calls of the running tick."""

    def __init__(self, settings: Settings, world: Any):
        self.settings = settings
        self.world = world
        self.calls: list[CallRecord] = []
        self.failures: list[tuple[str, str, str]] = []  # (agent id, kind, reason)
        self.prompts = PromptBook()
        seed = settings.seed
        self.pool = ModelPool(
            settings.profile, limits=settings.llm_limits, sink=self.calls.append,
            scripted_factory=lambda: ScriptedModel(seed), rng=random.Random(seed ^ 0x5EED),
        )

    def model(self, a: AgentRecord) -> LanguageModel:
        return self.pool.model(a.llm)

    def mind(self, a: AgentRecord) -> AgentMind:
        """A fresh Mind for one step of `a`."""
        aid = a.id
        profile = self.settings.profile(a.llm)

        def failed(kind: str, reason: str) -> None:
            self.failures.append((aid, kind, reason))

        return AgentMind(
            aid, self.pool.model(a.llm), self.pool.embedder(a.llm), self.prompts,
            # every attempt may take the full timeout, and every retry may first wait its backoff
            call_timeout_s=profile.timeout_s * (1 + profile.max_retries) + profile.max_retries * MAX_BACKOFF_S,
            on_failure=failed,
        )

    def drain(self) -> tuple[list[CallRecord], list[tuple[str, str, str]]]:
        calls, self.calls[:] = list(self.calls), []
        fails, self.failures[:] = list(self.failures), []
        return calls, fails

    @staticmethod
    def call_rows(tick: int, calls: list[CallRecord]) -> list[dict[str, Any]]:
        """Metered calls as llm_calls table rows."""
        return [
            {"tick": tick, "agent_id": c.agent_id, "kind": c.kind[:32], "model": c.model[:128],
             "prompt_tokens": c.prompt_tokens, "completion_tokens": c.completion_tokens,
             "latency_ms": c.latency_s * 1000, "ok": c.ok, "cached": c.cached}
            for c in calls
        ]

    async def aclose(self) -> None:
        await self.pool.aclose()
