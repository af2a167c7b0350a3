"""Advance the town one tick (admin). Agents that need to think step concurrently, each under a
timeout; one agent's failure never stops the others. Moving agents walk without an LLM call.
The world then applies every proposed action in agent-id order, commits the tick in one
transaction, pushes a `tick` delta to subscribers, and answers with a summary, including where
the tick's time went (`phases_ms`: perceive, think, apply, commit, publish).
Refused with code `paused` while an admin has paused ticking, unless `step` is set."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from pydantic import Field

from agent import actor
from agent.actor import Action
from agent.interfaces import Perception
from server.context import Context
from server.errors import GameError
from server.protocol import Model
from server.views import AgentError
from server.world import rules
from server.world.world import World

PERMISSION = "admin"
PHASES = ("perceive", "think", "apply", "commit", "publish")  # the parts of `phases_ms`, in order
log = logging.getLogger(__name__)


class Request(Model):
    """How many ticks to run in this call (each committed on its own)."""

    count: int = Field(default=1, ge=1, le=1000)
    step: bool = False  # run even while paused (the browser's "step" button)


class Response(Model):
    """The summary of the last tick run, plus totals over `count` ticks."""

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
    ticks: int


async def handle(ctx: Context, req: Request) -> Response:
    if ctx.services.paused and not req.step:
        raise GameError("ticking is paused by an admin (send `pause` with on=false)", code="paused")
    out: Response | None = None
    async with ctx.services.tick_lock:  # ticks from several admins run one after another
        for _ in range(req.count):
            out = await run_tick(ctx)
    assert out is not None
    out.ticks = req.count
    return out


async def _think(
    ctx: Context, aid: str, p: Perception, results: dict[str, list[Action]], errors: dict[str, str]
) -> None:
    w = ctx.world
    a = w.agents[aid]
    timeout = ctx.settings.llm_limits.step_timeout_s
    try:
        async with asyncio.timeout(timeout):
            results[aid] = await actor.step(a, ctx.services.brain.mind(a), p)
    except TimeoutError:
        errors[aid] = f"step timed out after {timeout:g}s"
    except Exception as e:  # one agent's failure is recorded on it, never spread
        log.warning("agent %s: step failed: %s: %s", aid, e.__class__.__name__, e)
        errors[aid] = f"{e.__class__.__name__}: {e}"


def _apply(w: World, results: dict[str, list[Action]]) -> tuple[int, int, list[dict[str, Any]]]:
    """Apply the proposed actions in agent-id order; an agent's first refused action ends its
    turn and is recorded on it. (applied, refused, events)."""
    applied = refused = 0
    events: list[dict[str, Any]] = []
    for aid in sorted(results):
        actor_rec = w.agents.get(aid)
        if actor_rec is None:
            continue
        for action in results[aid]:
            try:
                ev = rules.apply(w, actor_rec, action)
                applied += 1
                if ev is not None:
                    events.append(ev)
            except GameError as e:
                refused += 1
                actor_rec.failures += 1
                actor_rec.last_error = e.message
                w.dirty.agents.add(aid)
                break
    return applied, refused, events


async def run_tick(ctx: Context) -> Response:
    """One tick, as described in the module docstring."""
    w, brain = ctx.world, ctx.services.brain
    t0 = time.perf_counter()
    snap = rules.Snapshot(w)
    thinkers = sorted(aid for aid, a in w.agents.items() if actor.wants_step(a))
    seen = {aid: snap.perceive(w.agents[aid]) for aid in thinkers}
    for aid in thinkers:
        w.agents[aid].inbox.clear()  # the perception holds them; they are heard this step
    t_perceived = time.perf_counter()
    results: dict[str, list[Action]] = {}
    errors: dict[str, str] = {}
    with w.stepping_in(thinkers):  # their memories made meanwhile belong to this tick's commit
        with brain.metering() as meter:  # the steps' tasks meter into this tick's meter
            async with asyncio.TaskGroup() as tg:
                for aid in thinkers:
                    tg.create_task(_think(ctx, aid, seen[aid], results, errors))
        stray_calls, stray_fails = brain.drain()  # made outside any tick or chat: booked here
        calls, fails = meter.calls + stray_calls, meter.failures + stray_fails
        t_thought = time.perf_counter()
        async with w.lock:
            moved = sum(1 for a in w.agents.values() if rules.walk(w, a))
            for a in w.agents.values():
                rules.finish_use(w, a)
            applied, refused, events = _apply(w, results)
            failed = {**{aid: f"{kind}: {reason}" for aid, kind, reason in fails}, **errors}
            for aid, err in failed.items():  # recorded on the agent: step errors and model failures
                if aid in w.agents:
                    w.agents[aid].failures += 1
                    w.agents[aid].last_error = err
                    w.dirty.agents.add(aid)
            board = w.task_board
            if board is not None:
                events.extend(board.check(w))
            w.clock.advance()
            tick = w.clock.tick
            w.dirty.llm_calls.extend(brain.call_rows(tick, calls))
            failed_agents = sorted(set(errors) | {f[0] for f in fails})
            summary = {
                "tick": tick,
                "clock": str(w.clock),
                "stepped": len(thinkers),
                "moved": moved,
                "actions": applied,
                "refused": refused,
                "llm_calls": len(calls),
                "tokens": sum(c.prompt_tokens + c.completion_tokens for c in calls),
                "cost_usd": round(sum(c.cost_usd for c in calls), 6),
                "failures": len(failed_agents),
                "errors": [
                    {
                        "agent": aid,
                        "error": errors.get(aid) or next(f"{k}: {r}" for a2, k, r in fails if a2 == aid),
                    }
                    for aid in failed_agents
                ][:50],
            }
            t_applied = time.perf_counter()
            summary["wall_ms"] = round((t_applied - t0) * 1000, 3)
            changed = sorted(w.dirty.agents)
            await w.commit(tick_row={"tick": tick, "game_seconds": w.clock.game_seconds, "summary": summary})
    t_committed = time.perf_counter()
    ctx.services.hub.publish(
        "tick",
        {
            "tick": tick,
            "clock": str(w.clock),
            # only the fields that changed since the last push (a moving agent: id, x, y)
            "agents": ctx.services.hub.changes(w.agents[i].brief() for i in changed if i in w.agents),
            "events": [{k: ev[k] for k in ("kind", "agent_id", "other_id", "text")} for ev in events],
            "summary": {k: summary[k] for k in ("stepped", "llm_calls", "tokens", "cost_usd", "failures")},
        },
    )
    marks = (t0, t_perceived, t_thought, t_applied, t_committed, time.perf_counter())
    phases = {name: round((marks[i + 1] - marks[i]) * 1000, 3) for i, name in enumerate(PHASES)}
    return Response(**summary, phases_ms=phases, ticks=1)
