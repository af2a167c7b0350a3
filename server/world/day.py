"""The world's side of an agent's day: who needs to think this tick, timed actions ending, and
salient events delivered by rule (no model call decides salience).

An agent thinks (and so may call its model) only when
- it is its turn in an open conversation;
- its timed action (a use, a wait, sleep) is over, or it has none and is not walking;
- something salient happened while it was busy or walking: a task it has not considered was
  offered (and it has no job), or a person it has talked with before arrived where it is;
- night fell while it walks somewhere other than home (it turns home, by rule).
A sleeping agent thinks only when its sleep ends in the morning.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent import day
from agent.actor import ARRIVED
from agent.state import ActorState, AgentRecord

if TYPE_CHECKING:
    from server.world.world import World

REFUSED_PAUSE_MINUTES = 5  # after a refused action an agent waits this long before deciding again
_MAX_SEEN_TASKS = 50


def needs_step(world: World, a: AgentRecord, open_task_ids: frozenset[str]) -> bool:
    """Does this agent think this tick? (See the module docstring.) A player's avatar never does."""
    if a.avatar:
        return False
    if a.conversation is not None:
        c = world.conversations.get(a.conversation)
        return c is not None and c.next_speaker == a.id
    if a.state is ActorState.SLEEPING:
        return False
    if a.inbox:
        return True
    if open_task_ids and world.jobs.get(a.id) is None and not open_task_ids <= set(a.seen_tasks):
        return True
    if a.state is ActorState.MOVING:
        return a.target != a.home and day.is_night(a.id, world.clock.minute_of_day)
    return world.clock.tick >= a.busy_until


def finish(world: World, a: AgentRecord) -> None:
    """End the agent's timed action if its time is up: a use frees its equipment and completes
    the plan step; sleep ends in the morning."""
    if a.busy_until > world.clock.tick or a.state not in (
        ActorState.USING,
        ActorState.SLEEPING,
        ActorState.CHATTING,
    ):
        return
    label = "woke up" if a.state is ActorState.SLEEPING else f"finished: {a.activity or 'done'}"
    if a.state is ActorState.USING:
        release(world, a)
        a.visit_minutes = 0  # the plan step is done: the agent leaves on its next step
    a.state, a.activity = ActorState.IDLE, ""
    if a.conversation is None:  # in a conversation its label says so until the end
        a.label = label
    world.dirty.agents.add(a.id)


def release(world: World, a: AgentRecord) -> None:
    """Free the equipment the agent uses, if any."""
    if a.using and a.using in world.equipment:
        eq = world.equipment[a.using]
        if a.id in eq.users:
            eq.users.remove(a.id)
            world.dirty.equipment.add(eq.id)
    a.using = None


def arrivals(world: World, arrived: list[AgentRecord]) -> None:
    """Agents that arrived at a building this tick: tell the busy people there who know them
    (salient to them). One pass over the town, only in ticks with arrivals."""
    if not arrived:
        return
    here: dict[tuple[int, int], list[AgentRecord]] = {}
    for other in world.agents.values():
        if (
            other.conversation is None
            and other.state is not ActorState.SLEEPING
            and world.clock.tick < other.busy_until
        ):
            here.setdefault((other.x, other.y), []).append(other)
    for a in arrived:
        b = world.building_at(a.x, a.y)
        if b is None:
            continue
        for other in here.get((a.x, a.y), ()):
            if other.id != a.id and a.id in other.acquaintances:
                other.inbox.append(f"{a.name}{ARRIVED}{b.name}")
                del other.inbox[:-10]
                world.dirty.agents.add(other.id)


def pause_after_refusal(world: World, a: AgentRecord) -> None:
    """A refused action costs the agent a few game minutes before it decides again, so a model
    that keeps proposing the impossible does not call every tick."""
    a.busy_until = max(
        a.busy_until, world.clock.tick + day.ticks_for(REFUSED_PAUSE_MINUTES, world.clock.tick_seconds)
    )


def mark_seen(a: AgentRecord, task_ids: list[str]) -> None:
    """Remember the tasks the agent has considered (it is not asked about them again)."""
    for t in task_ids:
        if t not in a.seen_tasks:
            a.seen_tasks.append(t)
    del a.seen_tasks[:-_MAX_SEEN_TASKS]
