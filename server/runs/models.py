"""Wire models of the run commands (typed results, listed under Types in docs/protocol.md)."""

from __future__ import annotations

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
