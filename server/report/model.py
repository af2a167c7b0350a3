"""The run report's shape (`get_report`, `/report.json`): typed, so the protocol reference lists
every field. `build_report` builds the dicts; `get_report` validates them against `Report`.
Every series is a list of `[tick, value]` points, oldest first."""

from __future__ import annotations

from pydantic import Field

from server.protocol import Model
from server.views import JobInfo, LedgerLine, TaskInfo

Series = list[list[int]]


class ReportAgent(Model):
    """An agent as the report lists it."""

    id: str
    name: str
    cash: int
    job: str | None = Field(description="the building id of its workplace, if employed")


class LedgerCheck(Model):
    """The books: every balance, and the check that they sum to zero."""

    entries: int = Field(description="ledger entries so far")
    total: int = Field(description="the sum of all balances (always 0)")
    zero_sum: bool
    agents_total: int = Field(description="the agents' cash together")
    accounts: dict[str, int] = Field(description="account -> balance")
    rewards: list[LedgerLine] = Field(description="task rewards paid or held in escrow")


class Usage(Model):
    """Model calls, tokens and their cost."""

    calls: int
    tokens: int
    cost_usd: float


class TickUsage(Model):
    """One tick's summary, as stored."""

    tick: int
    stepped: int
    llm_calls: int
    tokens: int
    cost_usd: float
    failures: int
    wall_ms: float


class LLMReport(Model):
    """What the run asked of its models."""

    calls: int
    tokens: int
    cost_usd: float
    failed: int
    by_kind: dict[str, Usage] = Field(description="prompt kind -> usage")
    by_agent: dict[str, Usage] = Field(description='agent id -> usage ("" for calls made for no agent)')
    per_tick: list[TickUsage] = Field(description="the latest 600 ticks")


class Company(Model):
    """A company registered at a building."""

    founder: str
    building: str
    tick: int


class ChatNode(Model):
    """An agent in the chat graph."""

    id: str
    name: str


class ChatEdge(Model):
    """How many chat lines two agents exchanged."""

    a: str
    b: str
    count: int
    conversations: int = Field(description="how many conversations the two held")


class ChatGraph(Model):
    """Who talked with whom."""

    lines: int
    conversations: int = Field(description="conversations held in the town")
    nodes: list[ChatNode]
    edges: list[ChatEdge]


class FactSpread(Model):
    """How a seeded fact spread through agents' memories."""

    fact: str
    seeded_by: str | None = Field(description="the agent who knew it first (none for a task's fact)")
    keywords: list[str] = Field(description="the words a memory must hold to count as knowing it")
    knowers: dict[str, int] = Field(description="agent id -> the tick it first knew")
    series: Series = Field(description="[tick, agents knowing it]")


class Report(Model):
    """The run report."""

    town: str
    tick: int
    clock: str
    seed: int
    agents: list[ReportAgent]
    ledger: LedgerCheck
    cash: dict[str, Series] = Field(description="agent id -> [tick, cash] (at most 600 points)")
    cash_total: Series = Field(description="[tick, the agents' cash together]")
    llm: LLMReport
    tasks: list[TaskInfo]
    jobs: dict[str, JobInfo] = Field(description="agent id -> job")
    companies: list[Company]
    chats: ChatGraph
    diffusion: list[FactSpread]
