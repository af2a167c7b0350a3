"""Advance the town one tick (admin). Agents that need to think (a timed action over, their turn
in a conversation, something salient happened: see docs/agents.md) step concurrently, each under a
timeout; one agent's failure never stops the others. Moving agents walk and busy agents go on
with their action without an LLM call. A chat line among the pushed events names its
conversation (`conversation_id`).
The world then applies every proposed action in agent-id order, commits the tick in one
transaction, pushes a `tick` delta to subscribers, and answers with a summary, including where
the tick's time went (`phases_ms`: perceive, think, apply, commit, publish).
Refused with code `paused` while an admin has paused ticking, unless `step` is set.
A `reset` during a run of ticks stops it after the tick in flight (`ticks` says how many ran)."""

from __future__ import annotations

import time

from pydantic import Field

from server.context import Context
from server.errors import Conflict, Paused
from server.protocol import Model
from server.views import AgentError
from server.world.step import STEP_PHASES, TickReport, run_tick

PERMISSION = "admin"
PHASES = (*STEP_PHASES, "publish")  # the parts of `phases_ms`, in order


class Request(Model):
    """How many ticks to run in this call (each committed on its own)."""

    count: int = Field(default=1, ge=1, le=1000)
    step: bool = False  # run even while paused (the browser's "step" button)


class Response(Model):
    """The summary of the last tick run, and how many ticks ran."""

    tick: int
    clock: str
    stepped: int  # agents that thought
    moved: int  # agents that walked
    actions: int  # actions applied
    refused: int  # actions the world refused
    llm_calls: int
    tokens: int
    cost_usd: float  # of this tick's calls, at the LLM profiles' prices (0 when unpriced)
    failures: int  # agents whose step failed (timeout, model error, invalid answer)
    errors: list[AgentError]
    wall_ms: float  # from the tick's start until its commit begins (stored with the tick's summary)
    # where the tick's time went, in ms: perceive, think (the agents' concurrent steps), apply
    # (walks, actions, task checks), commit (the one transaction), publish (queueing the delta)
    phases_ms: dict[str, float]
    ticks: int  # ticks run: `count`, or fewer when a reset stopped the run


async def handle(ctx: Context, req: Request) -> Response:
    if ctx.services.paused and not req.step:
        raise Paused("ticking is paused by an admin (send `pause` with on=false)")
    w = ctx.world
    timeout = ctx.settings.llm_limits.step_timeout_s
    out: Response | None = None
    ran = 0
    async with ctx.services.tick_lock:  # ticks from several admins run one after another
        epoch = w.epoch
        for _ in range(req.count):
            async with w.step_lock:
                if w.epoch != epoch:  # the town was reset: its ticks are over
                    break
                report = await run_tick(w, ctx.services.models, timeout)
            ran += 1
            out = _publish(ctx, report)
    if out is None:
        raise Conflict("the town was reset before the tick could run; send it again")
    out.ticks = ran
    return out


def _publish(ctx: Context, r: TickReport) -> Response:
    """Push the tick's delta to subscribers; the command's answer."""
    t0 = time.perf_counter()
    w, hub = ctx.world, ctx.services.hub
    hub.publish(
        "tick",
        {
            "tick": r.tick,
            "clock": r.clock,
            # only the fields that changed since the last push (a moving agent: id, x, y)
            "agents": hub.changes(w.agents[i].brief() for i in r.changed if i in w.agents),
            # a chat line names its conversation (`conversation_id`), so a client shows one thread
            "events": [
                {k: ev[k] for k in ("kind", "agent_id", "other_id", "text", "conversation_id")}
                for ev in r.events
            ],
            "summary": {
                "stepped": r.stepped,
                "llm_calls": r.llm_calls,
                "tokens": r.tokens,
                "cost_usd": r.cost_usd,
                "failures": r.failures,
            },
        },
    )
    phases = {**r.phases_ms, "publish": round((time.perf_counter() - t0) * 1000, 3)}
    return Response(
        tick=r.tick,
        clock=r.clock,
        stepped=r.stepped,
        moved=r.moved,
        actions=r.actions,
        refused=r.refused,
        llm_calls=r.llm_calls,
        tokens=r.tokens,
        cost_usd=r.cost_usd,
        failures=r.failures,
        errors=[AgentError(agent=e.agent, error=e.error) for e in r.errors],
        wall_ms=r.wall_ms,
        phases_ms=phases,
        ticks=1,
    )
