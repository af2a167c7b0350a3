"""The agent's contracts: every plug-in and model client implements one of these Protocols.

This module imports no implementation. Plan and memory plug-ins, LLM clients and embedders
import it; the world and the tick only ever see these types.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol, TypeVar

import numpy as np
from pydantic import BaseModel

T = TypeVar("T", bound=BaseModel)


# --------------------------------------------------------------------------- LLM


@dataclass(frozen=True, slots=True)
class Message:
    """One chat message sent to a model."""

    role: str  # "system" | "user" | "assistant"
    content: str


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts of one call."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True, slots=True)
class LLMRequest:
    """What an agent asks a model: the rendered messages plus the data they were rendered from.

    `kind` names the prompt template (e.g. "qa_choose"); `context` is the structured data the
    template was rendered from. Network models only send `messages`; the offline scripted model
    answers from `kind` and `context`. `schema` is the JSON schema the answer must follow, if any.
    """

    kind: str
    messages: tuple[Message, ...]
    context: Mapping[str, Any] = field(default_factory=dict)
    agent_id: str | None = None
    schema: Mapping[str, Any] | None = None
    max_tokens: int | None = None
    temperature: float = 0.0
    # the share of the messages' text in a prefix repeated from this agent's previous request
    # (what a provider's prefix cache can serve); metered as `prefix_tokens`
    shared_prefix: float = 0.0


@dataclass(frozen=True, slots=True)
class LLMResult:
    """A model's answer to one request."""

    text: str
    usage: Usage = Usage()
    model: str = ""
    latency_s: float = 0.0
    cached: bool = False


class LLMError(Exception):
    """A model call failed for good (after any retries). `retryable` says if a retry could help;
    `timed_out` that the server may still be working on it; `usage` is what a failed answer still
    cost (an answer cut at `max_tokens`)."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = False,
        retry_after: float | None = None,
        timed_out: bool = False,
        usage: Usage | None = None,
    ):
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
        self.timed_out = timed_out
        self.usage = usage


class LanguageModel(Protocol):
    """An async chat model: messages in, text out, with token usage."""

    name: str

    async def complete(self, request: LLMRequest) -> LLMResult: ...

    async def aclose(self) -> None: ...


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors of a fixed dimension."""

    dim: int

    async def embed(self, texts: Sequence[str]) -> np.ndarray: ...  # shape (len(texts), dim)


# ------------------------------------------------------------------ perception


@dataclass(frozen=True, slots=True)
class EquipmentView:
    """An equipment as an agent sees it."""

    id: str
    name: str
    description: str
    operations: tuple[str, ...]
    price: int  # cash an agent pays per use
    income: int  # cash an agent earns per use (a job)
    capacity: int
    in_use: int
    functions: tuple[tuple[str, int, int, bool], ...] = ()  # (operation, cost, earn, owner_only)
    menu: tuple[tuple[str, int], ...] = ()  # (item, price per unit)


@dataclass(frozen=True, slots=True)
class BuildingView:
    """A building as an agent sees it."""

    id: str
    name: str
    kind: str
    description: str
    x: int
    y: int
    equipment: tuple[EquipmentView, ...]


@dataclass(frozen=True, slots=True)
class AgentBrief:
    """Another agent in sight."""

    id: str
    name: str
    distance: int
    state: str
    purpose: str


@dataclass(frozen=True, slots=True)
class TaskView:
    """A task announced by the mayor (mayor mode)."""

    id: str
    title: str
    description: str
    reward: int
    building_id: str | None
    holder_ids: tuple[str, ...]
    mayor_id: str | None = None  # the agent who posted it ("player" or None for a human mayor)


@dataclass(frozen=True, slots=True)
class ConversationView:
    """The agent's open conversation as it perceives it."""

    id: str
    partner_id: str
    partner_name: str
    lines: tuple[str, ...]  # the transcript so far, "Name: text"
    my_turn: bool
    max_turns: int
    told: tuple[str, ...] = ()  # news this agent has already told the partner


@dataclass(frozen=True, slots=True)
class Perception:
    """Everything an agent knows about the world at the start of its step. Read-only."""

    tick: int
    minute_of_day: int  # 0..1439, game time
    day: int
    clock: str  # human form, e.g. "Day 1 08:30"
    agent_id: str
    name: str
    bio: str
    goal: str
    cash: int
    x: int
    y: int
    building_id: str | None  # the building the agent stands in, if any
    job: str | None  # building id of the agent's workplace, if employed
    buildings: tuple[BuildingView, ...]
    nearby: tuple[AgentBrief, ...]
    tasks: tuple[TaskView, ...] = ()
    events: tuple[str, ...] = ()  # what happened to the agent since its last step (chats heard...)
    home: str | None = None  # building id of the agent's home
    activity: str = ""  # the timed action it is busy with, if any
    busy: bool = False  # a timed action (use, wait, sleep) is under way
    conversation: ConversationView | None = None  # its open conversation, if any
    news: tuple[str, ...] = ()  # news it knows and may pass on
    tick_seconds: int = 10  # game seconds per tick


# -------------------------------------------------------------------- thinking


class Mind(Protocol):
    """An agent's access to its model for one step: renders a prompt kind and parses the answer.

    `ask` returns None when the model failed twice (the caller takes a safe fallback; the failure
    is already counted). Every call is metered and bounded by the limiter and a timeout.
    """

    agent_id: str
    embedder: Embedder

    async def ask(self, kind: str, context: Mapping[str, Any], answer: type[T]) -> T | None: ...

    async def say(self, kind: str, context: Mapping[str, Any]) -> str | None: ...


ActionKind = Literal["move", "use", "chat", "say", "leave", "wait", "sleep", "take_task", "seen_tasks"]


@dataclass(frozen=True, slots=True)
class Action:
    """A proposed action. The world decides whether it happens."""

    kind: ActionKind
    building_id: str | None = None
    purpose: str = ""
    equipment_id: str | None = None
    operation: str | None = None
    target: str | None = None
    text: str = ""
    task_id: str | None = None
    minutes: int = 0  # how long a use, wait or sleep lasts (game minutes), or a visit (move)
    end: bool = False  # "say": the line closes the conversation
    news: str | None = None  # "chat"/"say": the news the line passes on
    items: tuple[tuple[str, int], ...] = ()  # a menu order for "use": (item, quantity)


@dataclass(frozen=True, slots=True)
class PlanDecision:
    """Where an agent goes next and why."""

    building_id: str
    purpose: str
    minutes: int = 0  # how long the step lasts there, in game minutes (0: the default)


@dataclass(slots=True)
class MemoryRecord:
    """One stored memory of an agent. `embedding` is its vector where one is stored with it (in
    the database, and in records a memory hands over for persistence); the `stream` memory keeps
    the vectors of its own records in one matrix instead."""

    agent_id: str
    kind: str  # "observation" | "chat" | "reflection" | "impression" | "experience" | "plan"
    text: str
    tick: int
    importance: float = 1.0
    subject: str | None = None  # whom or what an impression is about
    embedding: np.ndarray | None = None
    id: int | None = None  # set once stored


class Memory(Protocol):
    """An agent's memory plug-in. Keeps its records in memory; the world persists `drain_new()`."""

    name: ClassVar[str]

    async def observe(
        self, mind: Mind, p: Perception, kind: str, text: str, subject: str | None = None
    ) -> None: ...

    async def retrieve(self, mind: Mind, p: Perception, query: str, k: int = 10) -> list[MemoryRecord]: ...

    async def on_plan_finished(self, mind: Mind, p: Perception, plan: PlanDecision, outcome: str) -> None: ...

    def load(self, records: Sequence[MemoryRecord]) -> None: ...

    def drain_new(self) -> list[MemoryRecord]: ...

    def recent(self, n: int) -> list[MemoryRecord]: ...


class Planner(Protocol):
    """An agent's plan plug-in: chooses the next building and purpose."""

    name: ClassVar[str]

    async def plan(self, mind: Mind, p: Perception, memory: Memory) -> PlanDecision: ...

    async def react(self, mind: Mind, p: Perception, memory: Memory, event: str) -> bool: ...

    def dump(self) -> dict[str, Any]: ...

    def load(self, state: Mapping[str, Any]) -> None: ...

    def describe(self) -> str: ...


class PluginRegistry(Protocol):
    """The plan and memory plug-ins by name (built once at start-up); the world makes each
    agent's plug-ins from it and refuses an unknown name with the valid ones."""

    def make_planner(self, name: str) -> Planner: ...

    def make_memory(self, name: str) -> Memory: ...

    def planner_names(self) -> tuple[str, ...]: ...

    def memory_names(self) -> tuple[str, ...]: ...
