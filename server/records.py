"""The records the world and the repository exchange: ledger entries, the batch of changes one
tick or command commits, and the town as the repository loads it. Both sides import this
module; neither imports the other for these."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agent.interfaces import MemoryRecord


@dataclass(frozen=True, slots=True)
class Entry:
    """One cash movement."""

    tick: int
    src: str
    dst: str
    amount: int
    reason: str


@dataclass(slots=True)
class Changes:
    """Everything one tick or command changed, written in one transaction."""

    meta: dict[str, Any] = field(default_factory=dict)
    agents: list[dict[str, Any]] = field(default_factory=list)
    buildings: list[dict[str, Any]] = field(default_factory=list)
    equipment: list[dict[str, Any]] = field(default_factory=list)
    ledger: list[Entry] = field(default_factory=list)
    memories: list[MemoryRecord] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    llm_calls: list[dict[str, Any]] = field(default_factory=list)
    tasks: list[dict[str, Any]] = field(default_factory=list)
    jobs: list[dict[str, Any]] = field(default_factory=list)
    jobs_removed: list[str] = field(default_factory=list)
    agents_removed: list[str] = field(default_factory=list)
    agent_ids: list[dict[str, Any]] = field(default_factory=list)  # ids given out or retired
    conversations: list[dict[str, Any]] = field(default_factory=list)  # rows, upserted by id
    tick_row: dict[str, Any] | None = None

    def empty(self) -> bool:
        return not any(
            (
                self.meta,
                self.agents,
                self.buildings,
                self.equipment,
                self.ledger,
                self.memories,
                self.events,
                self.llm_calls,
                self.tasks,
                self.jobs,
                self.jobs_removed,
                self.agents_removed,
                self.agent_ids,
                self.conversations,
                self.tick_row,
            )
        )


@dataclass(slots=True)
class StoredTown:
    """The town as of the last commit, as the repository loads it."""

    meta: dict[str, Any]
    agents: list[dict[str, Any]]
    buildings: list[dict[str, Any]]
    equipment: list[dict[str, Any]]
    balances: dict[str, int]
    memories: list[MemoryRecord]
    tasks: list[dict[str, Any]]
    jobs: list[dict[str, Any]]
    agent_ids: set[str] = field(default_factory=set)  # every agent id ever given out
    conversations: list[dict[str, Any]] = field(default_factory=list)  # the open ones
