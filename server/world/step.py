"""One tick of the town: the world's own step (perceive, think, walk, apply, check tasks, commit).

`run_tick` first ends the timed actions whose time is up (a use, a wait, sleep: see
`server.world.day`), asks which agents need to think (`day.needs_step`: most agents in most ticks
do not), lets them think concurrently (each under a timeout;
one agent's failure is recorded on it and never stops the others), then, under the world's lock,
walks the moving agents, applies the proposed actions in agent-id order, records failures,
checks the task board, advances the clock and commits the tick in one transaction. It returns a
`TickReport`; publishing it is the caller's business (`command/tick.py`).

A tick always completes. An agent deleted while the tick's agents think drops out of it: its
proposed actions and failures are dropped, and its half-made memories go with its record. A tick
aborted all the same (cancelled, or an unexpected error before its commit) marks the world stale,
so the next command reloads the last committed town instead of saving half a tick later.
Ticks run one at a time under `World.step_lock`; `World.reset` takes it too, so a reset waits for
the tick in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agent import actor
from agent.interfaces import Action, Perception
from agent.state import ActorState, AgentRecord
from server.errors import GameError
from server.world import day, rules, talk

if TYPE_CHECKING:
    from server.protocols import Models
    from server.world.world import World

log = logging.getLogger(__name__)

# the parts of a tick's `phases_ms`, in order; the caller adds "publish"
STEP_PHASES = ("perceive", "think", "apply", "commit")
MAX_ERRORS = 50  # errors listed in a tick's report (the count is in `failures`)


@dataclass(frozen=True, slots=True)
class StepError:
    """Why one agent's step failed this tick."""

    agent: str
    error: str


@dataclass(slots=True)
class TickReport:
    """What one tick did: the summary stored with it, plus what a caller publishes."""

    tick: int
    clock: str
    stepped: int  # agents that thought
    moved: int  # agents that walked
    actions: int  # actions applied
    refused: int  # actions the world refused
    llm_calls: int
    tokens: int
    cost_usd: float
    failures: int  # agents whose step failed
    errors: list[StepError]  # the first MAX_ERRORS of them
    wall_ms: float  # from the tick's start until its commit begins
    phases_ms: dict[str, float]  # STEP_PHASES, in ms
    events: list[dict[str, Any]] = field(default_factory=list)  # events of the tick, for the delta
    changed: list[str] = field(default_factory=list)  # ids of the agents the tick changed

    def summary(self) -> dict[str, Any]:
        """The summary stored in the tick's row (the ticks table)."""
        return {
            "tick": self.tick,
            "clock": self.clock,
            "stepped": self.stepped,
            "moved": self.moved,
            "actions": self.actions,
            "refused": self.refused,
            "llm_calls": self.llm_calls,
            "tokens": self.tokens,
            "cost_usd": self.cost_usd,
            "failures": self.failures,
            "errors": [{"agent": e.agent, "error": e.error} for e in self.errors],
            "wall_ms": self.wall_ms,
        }


async def run_tick(world: World, models: Models, timeout: float) -> TickReport:
    """Advance `world` one tick, as the module docstring says. Each agent's step gets `timeout`
    seconds. Ticks must not overlap: callers hold `world.step_lock`."""
    w = world
    t0 = time.perf_counter()
    async with w.lock:  # timed actions whose time is up end first: their agents decide this tick
        for a in w.agents.values():
            rules.finish_use(w, a)
    scene = rules.Scene(w)
    # the records are taken now: an agent deleted while the others think is told apart by identity
    # who thinks: only agents with something to decide (`server.world.day.needs_step`)
    open_tasks = frozenset(t.id for t in scene.tasks)
    thinkers = [a for _, a in sorted(w.agents.items()) if day.needs_step(w, a, open_tasks)]
    seen = {a.id: scene.perceive(a) for a in thinkers}
    t_perceived = time.perf_counter()
    results: dict[str, list[Action]] = {}
    errors: dict[str, str] = {}
    with w.stepping_in(a.id for a in thinkers):  # their memories made meanwhile go with this tick
        with _unsaved_if_aborted(w), models.metering() as meter:  # the steps' tasks meter into it
            for a in thinkers:
                a.inbox.clear()  # the perception holds them; they are heard this step
            async with asyncio.TaskGroup() as tg:
                for a in thinkers:
                    tg.create_task(_think(models, a, seen[a.id], timeout, results, errors))
        stray_calls, stray_fails = models.drain()  # made outside any tick or chat: booked here
        calls, fails = meter.calls + stray_calls, meter.failures + stray_fails
        t_thought = time.perf_counter()
        async with w.lock:
            with _unsaved_if_aborted(w):
                live = {a.id for a in thinkers if w.agents.get(a.id) is a}  # not deleted meanwhile
                walking = [a for a in w.agents.values() if a.state is ActorState.MOVING]
                moved = sum(1 for a in walking if rules.walk(w, a))
                day.arrivals(w, [a for a in walking if a.state is not ActorState.MOVING])
                applied, refused, events = _apply(w, {aid: r for aid, r in results.items() if aid in live})
                talk.end_stale(w)
                reported = _record_failures(w, {a.id for a in thinkers} - live, fails, errors)
                events.extend(w.task_board.check(w))
                w.clock.advance()
                w.book_calls(calls)
                t_applied = time.perf_counter()
                report = TickReport(
                    tick=w.clock.tick,
                    clock=str(w.clock),
                    stepped=len(thinkers),
                    moved=moved,
                    actions=applied,
                    refused=refused,
                    llm_calls=len(calls),
                    tokens=sum(c.prompt_tokens + c.completion_tokens for c in calls),
                    cost_usd=round(sum(c.cost_usd for c in calls), 6),
                    failures=len(reported),
                    errors=[StepError(aid, reported[aid]) for aid in sorted(reported)][:MAX_ERRORS],
                    wall_ms=round((t_applied - t0) * 1000, 3),
                    phases_ms={},
                    events=events,
                    changed=sorted(w.dirty.agents),
                )
            # a failed commit reloads the last committed town itself (World.commit)
            await w.commit(
                tick_row={
                    "tick": report.tick,
                    "game_seconds": w.clock.game_seconds,
                    "summary": report.summary(),
                }
            )
    t_committed = time.perf_counter()
    marks = (t0, t_perceived, t_thought, t_applied, t_committed)
    report.phases_ms = {
        name: round((marks[i + 1] - marks[i]) * 1000, 3) for i, name in enumerate(STEP_PHASES)
    }
    return report


@contextlib.contextmanager
def _unsaved_if_aborted(w: World) -> Iterator[None]:
    """A tick cancelled or failing here has changed memory (inboxes heard, memories made, actions
    half applied) without committing it: mark the world stale, so the next command reloads the
    last committed town instead of saving half a tick with its own commit."""
    try:
        yield
    except BaseException:
        if not w.stale:
            log.warning("tick %d aborted before its commit; the town reloads", w.clock.tick + 1)
        w.stale = True
        raise


def _record_failures(
    w: World, gone: set[str], fails: list[tuple[str, str, str]], errors: dict[str, str]
) -> dict[str, str]:
    """Record each failed agent's failure on it (its last model failure, or its step error) and
    return what the report says of each (its step error, or its first model failure). Agents
    deleted during the tick are left out."""
    recorded: dict[str, str] = {}
    reported: dict[str, str] = {}
    for aid, kind, reason in fails:
        if aid not in gone:
            recorded[aid] = f"{kind}: {reason}"
            reported.setdefault(aid, f"{kind}: {reason}")
    for aid, err in errors.items():
        if aid not in gone:
            recorded[aid] = reported[aid] = err
    for aid, err in recorded.items():
        w.record_failure(aid, err)
    return reported


async def _think(
    models: Models,
    a: AgentRecord,
    p: Perception,
    timeout: float,
    results: dict[str, list[Action]],
    errors: dict[str, str],
) -> None:
    """One agent's step; its failure is recorded in `errors`, never raised."""
    try:
        async with asyncio.timeout(timeout):
            results[a.id] = await actor.step(a, models.mind(a), p)
    except TimeoutError:
        errors[a.id] = f"step timed out after {timeout:g}s"
    except Exception as e:  # one agent's failure is recorded on it, never spread
        log.warning("agent %s: step failed: %s: %s", a.id, e.__class__.__name__, e)
        errors[a.id] = f"{e.__class__.__name__}: {e}"


def _apply(w: World, results: dict[str, list[Action]]) -> tuple[int, int, list[dict[str, Any]]]:
    """Apply the proposed actions in agent-id order; an agent's first refused action ends its
    turn and is recorded on it. (applied, refused, events)."""
    applied = refused = 0
    events: list[dict[str, Any]] = []
    for aid in sorted(results):
        a = w.agents[aid]
        for action in results[aid]:
            try:
                ev = rules.apply(w, a, action)
            except GameError as e:
                refused += 1
                w.record_failure(aid, e.message)
                day.pause_after_refusal(w, a)
                break
            applied += 1
            if ev is not None:
                events.append(ev)
    return applied, refused, events
