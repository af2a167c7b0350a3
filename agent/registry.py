"""The plug-in registry: plan and memory modules by name, built once at start-up.

`plugin_registry()` returns an immutable `Registry`; the server builds it once and hands it down,
with the resources plug-ins share (a thread pool for the stream memory's big products).
An unknown name raises `UnknownPlugin`, whose message lists the valid names.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from agent.interfaces import Memory, Planner
from agent.memory.long_term import LongTermMemory
from agent.memory.stream import StreamMemory
from agent.plan.daily import DailyPlanner
from agent.plan.qa import QAPlanner


class UnknownPlugin(LookupError):
    """A plan or memory module name that is not registered."""

    def __init__(self, kind: str, name: str, valid_names: tuple[str, ...]) -> None:
        super().__init__(f"unknown {kind} module {name!r}; valid names: {', '.join(valid_names)}")
        self.kind = kind
        self.name = name
        self.valid_names = valid_names


@dataclass(frozen=True, slots=True)
class Registry:
    """Plan and memory plug-in factories by name (read-only)."""

    planners: Mapping[str, Callable[..., Planner]]
    memories: Mapping[str, Callable[..., Memory]]

    def planner_names(self) -> tuple[str, ...]:
        """The registered plan module names, sorted."""
        return tuple(sorted(self.planners))

    def memory_names(self) -> tuple[str, ...]:
        """The registered memory module names, sorted."""
        return tuple(sorted(self.memories))

    def check(self, *, plan: str, memory: str) -> None:
        """Raise `UnknownPlugin` unless both names are registered (e.g. when an agent is created)."""
        if plan not in self.planners:
            raise UnknownPlugin("plan", plan, self.planner_names())
        if memory not in self.memories:
            raise UnknownPlugin("memory", memory, self.memory_names())

    def make_planner(self, name: str, **options: Any) -> Planner:
        """A new planner of module `name`."""
        factory = self.planners.get(name)
        if factory is None:
            raise UnknownPlugin("plan", name, self.planner_names())
        return factory(**options)

    def make_memory(self, name: str, **options: Any) -> Memory:
        """A new, empty memory of module `name` (`options` go to its constructor)."""
        factory = self.memories.get(name)
        if factory is None:
            raise UnknownPlugin("memory", name, self.memory_names())
        return factory(**options)


_PLANNERS: Mapping[str, Callable[..., Planner]] = MappingProxyType(
    {QAPlanner.name: QAPlanner, DailyPlanner.name: DailyPlanner}
)
_MEMORIES: Mapping[str, Callable[..., Memory]] = MappingProxyType(
    {LongTermMemory.name: LongTermMemory, StreamMemory.name: StreamMemory}
)


def plugin_registry(matvec_pool: Executor | None = None) -> Registry:
    """The registry of every built-in plan and memory module. `matvec_pool` (owned by the caller)
    is handed to every stream memory; without it, retrieval runs on the calling thread."""
    if matvec_pool is None:
        return Registry(planners=_PLANNERS, memories=_MEMORIES)
    memories: dict[str, Callable[..., Memory]] = {
        **_MEMORIES,
        StreamMemory.name: functools.partial(StreamMemory, pool=matvec_pool),
    }
    return Registry(planners=_PLANNERS, memories=MappingProxyType(memories))
