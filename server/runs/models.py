"""Wire models of the run commands (typed results, listed under Types in docs/protocol.md)."""

from __future__ import annotations

from pydantic import Field

from server.protocol import Model
from server.runs.store import RunInfo


class RunView(Model):
    """One run: its name, lineage (`parent`, `fork_tick`), where it stands, and its checkpoints."""

    name: str
    parent: str | None
    fork_tick: int | None
    tick: int
    agents: int
    archived: bool
    open: bool  # the run the server shows and ticks
    checkpoints: list[int]  # ticks of the kept checkpoints, oldest first

    @classmethod
    def of(cls, r: RunInfo) -> RunView:
        """The wire form of a `RunInfo`."""
        return cls(
            name=r.name,
            parent=r.parent,
            fork_tick=r.fork_tick,
            tick=r.tick,
            agents=r.agents,
            archived=r.archived,
            open=r.open,
            checkpoints=list(r.checkpoints),
        )


class AgentFrame(Model):
    """An agent in a replay: all fields in a state or a keyframe; in a delta frame only `id`, the
    fields that changed that tick to a value, and in `cleared` those that changed to null."""

    id: str
    name: str | None = None
    x: int | None = None
    y: int | None = None
    state: str | None = None
    label: str | None = None
    cash: int | None = None
    target: str | None = None
    purpose: str | None = None
    cleared: list[str] = []


class ReplayEvent(Model):
    """Something that happened in a tick (a chat line, a purchase, a task done ...)."""

    kind: str
    agent_id: str | None
    other_id: str | None
    text: str


class FrameView(Model):
    """One tick's changes: the agents that changed (all of them in a keyframe), the ids of agents
    that left, and the tick's events."""

    tick: int
    clock: str
    game_seconds: int
    keyframe: bool
    agents: list[AgentFrame]
    gone: list[str]
    events: list[ReplayEvent]


class LineageStep(Model):
    """One run of a lineage: its name, and its parent and fork tick (none for a root run)."""

    name: str
    parent: str | None
    fork_tick: int | None


class RunReport(Model):
    """The report's run: its name and its lineage, the run itself first, then its parent ..."""

    name: str
    lineage: list[LineageStep]


class ProbeSeries(Model):
    """One probe's scores over time."""

    name: str
    question: str
    metric: str = Field(description="keywords, choice, number or judge")
    mean: list[list[float]] = Field(description="[tick, mean score of the agents asked] (0..1)")
    agents: dict[str, list[list[float]]] = Field(description="agent id -> [tick, score]")
    last: float = Field(description="the mean score of the latest tick asked")


class RunFigures(Model):
    """One run's figures in a comparison."""

    name: str
    parent: str | None
    fork_tick: int | None
    tick: int
    clock: str
    agents: int
    cash_total: int = Field(description="the agents' cash together")
    cash: dict[str, int] = Field(description="agent id -> cash")
    cash_series: list[list[int]] = Field(description="[tick, the agents' cash together]")
    tasks_done: int
    tasks: int
    diffusion: dict[str, int] = Field(description="seeded fact -> agents who know it")
    probes: dict[str, float] = Field(description="probe -> its latest mean score")
    probe_series: dict[str, list[list[float]]] = Field(description="probe -> [tick, mean score]")
    llm_calls: int
    tokens: int
    cost_usd: float
    chat_lines: int
