"""The town's agents as they were at one tick of a run (default: the open run), from its replay
frames (see docs/runs.md): each agent's position, state, action label, cash, target and purpose.
Also the run's recorded range (`first_tick`, `last_tick`), for a replay's timeline. Open to
everyone; it changes nothing."""

from __future__ import annotations

from pydantic import Field

from server.context import Context
from server.protocol import Model
from server.runs.models import AgentFrame
from server.runs.replay import town_at
from server.runs.switch import run_repository

PERMISSION = "viewer"


class Request(Model):
    """Which run and tick."""

    tick: int = Field(ge=0)
    run: str | None = Field(default=None, max_length=32)


class Response(Model):
    """The agents at `tick`, and the ticks the run has recorded."""

    run: str
    tick: int
    clock: str
    game_seconds: int
    agents: list[AgentFrame]
    first_tick: int
    last_tick: int


async def handle(ctx: Context, req: Request) -> Response:
    async with run_repository(ctx.services, req.run) as repo:
        at = await town_at(repo, req.tick)
    runs = ctx.services.runs
    return Response(
        run=req.run or (runs.current if runs is not None else "main"),
        tick=at.tick,
        clock=at.clock,
        game_seconds=at.game_seconds,
        agents=[AgentFrame.model_validate(a) for a in at.agents],
        first_tick=at.first_tick,
        last_tick=at.last_tick,
    )
