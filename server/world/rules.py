"""The world's rules for a tick: what agents perceive, how they walk, and whether a proposed
action happens. An LLM can propose; only these rules decide (no cash from nowhere, no chat with a
wall or an agent out of reach, no walking through walls, no use of a full or missing equipment)."""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import TYPE_CHECKING, Any

import numpy as np

from agent import day as agent_day
from agent.interfaces import Action, AgentBrief, BuildingView, ConversationView, EquipmentView, Perception
from agent.state import ActorState, AgentRecord
from server.errors import ActionRefused
from server.world import day, market, talk

if TYPE_CHECKING:
    from server.world.world import World

log = logging.getLogger(__name__)

WAGE_MINUTES = 30  # a paid use earns the equipment's income once per started half hour


class Scene:
    """What every agent perceives at the start of a tick (buildings, agents by place, tasks, the
    clock), built once per tick; `perceive` gives one agent's view of it."""

    def __init__(self, world: World):
        self.world = world
        self.buildings = tuple(
            BuildingView(
                b.id,
                b.name,
                b.template.kind,
                b.template.description,
                *b.entrance,
                tuple(
                    EquipmentView(
                        e.id,
                        e.spec.shown,
                        e.spec.description,
                        tuple(e.spec.operations),
                        *market.view_prices(e.spec),
                        e.spec.capacity,
                        len(e.users),
                        functions=tuple((f.name, f.cost, f.earn, f.owner_only) for f in e.spec.functions),
                        menu=tuple(e.spec.menu.items()),
                    )
                    for e in b.equipment
                ),
            )
            for b in world.buildings.values()
        )
        self.entrances = {b.entrance: b.id for b in world.buildings.values()}
        self.cell = max(1, world.sight)
        # agents as arrays, in id order, bucketed by cell: nearby() scores a neighbourhood at once
        self.agents = sorted(world.agents.values(), key=lambda a: a.id)
        self.index = {a.id: i for i, a in enumerate(self.agents)}
        self.xs = np.fromiter((a.x for a in self.agents), np.int64, len(self.agents))
        self.ys = np.fromiter((a.y for a in self.agents), np.int64, len(self.agents))
        self.buckets: dict[tuple[int, int], list[int]] = defaultdict(list)
        for i, a in enumerate(self.agents):
            self.buckets[(a.x // self.cell, a.y // self.cell)].append(i)
        self._hoods: dict[tuple[int, int], np.ndarray] = {}
        self.tasks = world.task_board.views()
        self.clock = (world.clock.tick, world.clock.minute_of_day, world.clock.day, str(world.clock))

    def _hood(self, cx: int, cy: int) -> np.ndarray:
        """Indices of the agents in cell (cx, cy) and the 8 around it, ascending (id order)."""
        hood = self._hoods.get((cx, cy))
        if hood is None:
            idx = [
                i
                for bx in (cx - 1, cx, cx + 1)
                for by in (cy - 1, cy, cy + 1)
                for i in self.buckets.get((bx, by), ())
            ]
            hood = self._hoods[(cx, cy)] = np.array(sorted(idx), dtype=np.int64)
        return hood

    def nearby(self, a: AgentRecord) -> tuple[AgentBrief, ...]:
        """The 10 nearest agents within sight (Manhattan), nearest first, ties by id."""
        c = self.cell
        hood = self._hood(a.x // c, a.y // c)
        d = np.abs(self.xs[hood] - a.x) + np.abs(self.ys[hood] - a.y)
        keep = d <= self.world.sight
        me = self.index.get(a.id)
        if me is not None:
            keep &= hood != me
        idx, d = hood[keep], d[keep]
        if len(idx) > 10:  # a crowded square holds hundreds in sight: keep 10 before sorting
            key = d * len(self.agents) + idx  # distance, then id (idx is in id order)
            part = np.argpartition(key, 9)[:10]
            idx, d = idx[part], d[part]
        order = np.lexsort((idx, d))
        agents = self.agents
        return tuple(
            AgentBrief(b.id, b.name, dist, "talking" if b.conversation else b.state.value, b.purpose)
            for b, dist in (
                (agents[i], dd) for i, dd in zip(idx[order].tolist(), d[order].tolist(), strict=True)
            )
        )

    def perceive(self, a: AgentRecord) -> Perception:
        tick, minute, day, clock = self.clock
        return Perception(
            tick=tick,
            minute_of_day=minute,
            day=day,
            clock=clock,
            agent_id=a.id,
            name=a.name,
            bio=a.bio,
            goal=a.goal,
            cash=a.cash,
            x=a.x,
            y=a.y,
            building_id=self.entrances.get((a.x, a.y)),
            job=self.world.jobs.get(a.id),
            buildings=self.buildings,
            nearby=self.nearby(a),
            tasks=self.tasks,
            events=tuple(a.inbox),
            home=a.home,
            activity=a.activity,
            busy=tick < a.busy_until,
            conversation=self._conversation(a),
            news=tuple(a.news),
            tick_seconds=self.world.clock.tick_seconds,
        )

    def _conversation(self, a: AgentRecord) -> ConversationView | None:
        c = self.world.conversations.get(a.conversation or "")
        if c is None:
            return None
        partner = c.partner_of(a.id)
        return ConversationView(
            id=c.id,
            partner_id=partner,
            partner_name=talk.display(self.world, partner),
            lines=tuple(f"{talk.display(self.world, t.speaker)}: {t.text}" for t in c.turns),
            my_turn=c.next_speaker == a.id,
            max_turns=c.max_turns,
            told=tuple(a.told.get(partner, ())),
        )


def walk(world: World, a: AgentRecord) -> bool:
    """Advance a moving agent along its path; True if it moved. An agent in a conversation
    stands still."""
    if a.state is not ActorState.MOVING or a.conversation is not None:
        return False
    if not _path_open(world, a):
        return False
    steps = a.path[: world.move_tiles]
    del a.path[: world.move_tiles]
    if steps:
        a.x, a.y = steps[-1]
    if not a.path:
        a.state = ActorState.IDLE
        b = world.buildings.get(a.target or "")
        a.label = f"arrived at {b.name}" if b else "arrived"
        a.acts_here = 0
    world.dirty.agents.add(a.id)
    return bool(steps)


def _path_open(world: World, a: AgentRecord) -> bool:
    """Whether the agent may walk on: a building put up across its path since it set out makes
    it find a way around it (from where it stands, blocked or not), or stop when there is none."""
    grid = world.grid
    if all(grid.walkable(x, y) for x, y in a.path[: world.move_tiles]):
        return True
    way = grid.path((a.x, a.y), a.path[-1])
    if way:
        a.path = list(way)
        return True
    b = world.buildings.get(a.target or "")
    a.path, a.state = [], ActorState.IDLE
    a.label = f"the way to {b.name} is blocked" if b else "the way is blocked"
    world.dirty.agents.add(a.id)
    return False


def finish_use(world: World, a: AgentRecord) -> None:
    """End the agent's timed action when its time is up (see `server.world.day.finish`)."""
    day.finish(world, a)


_release = day.release


def apply(world: World, a: AgentRecord, action: Action) -> dict[str, Any] | None:
    """Validate and apply one action; returns an event for the delta, or raises ActionRefused."""
    world.dirty.agents.add(a.id)
    if action.kind == "move":
        return _move(world, a, action)
    if action.kind == "use":
        return _use(world, a, action)
    if action.kind == "chat":
        return _chat(world, a, action)
    if action.kind == "say":
        return talk.say(world, a, action.text, end=action.end, news=action.news)
    if action.kind == "sleep":
        return _sleep(world, a, action)
    if action.kind == "seen_tasks":
        day.mark_seen(a, action.text.split())
        return None
    if action.kind == "leave":
        _release(world, a)
        b = world.buildings.get(a.target or "")
        a.target, a.state, a.path = None, ActorState.IDLE, []
        a.label = f"left {b.name}" if b else "looking for something to do"
        a.acts_here = 0
        return None
    if action.kind == "wait":
        a.label = a.activity = "waiting"
        a.busy_until = world.clock.tick + agent_day.ticks_for(
            agent_day.clamp_minutes(action.minutes, 10), world.clock.tick_seconds
        )
        a.acts_here += 1
        return None
    if action.kind == "take_task":
        return world.task_board.take(world, a, action.task_id or "")
    raise ActionRefused(f"unknown action {action.kind!r}")


def _move(world: World, a: AgentRecord, action: Action) -> dict[str, Any] | None:
    b = world.buildings.get(action.building_id or "")
    if b is None:
        raise ActionRefused(f"no building {action.building_id!r} to go to")
    path = world.grid.path((a.x, a.y), b.entrance)
    if path is None:
        raise ActionRefused(f"{b.name} cannot be reached from ({a.x},{a.y})")
    _release(world, a)
    a.target, a.purpose = b.id, action.purpose[:300]
    a.last_target = b.id
    a.path = list(path)
    a.visit_minutes = agent_day.clamp_minutes(action.minutes)
    a.busy_until, a.activity = 0, ""
    a.acts_here = 0
    if a.path:
        a.state = ActorState.MOVING
        a.label = f"walking to {b.name}"
    else:
        a.state = ActorState.IDLE
        a.label = f"at {b.name}"
    return None


def _use(world: World, a: AgentRecord, action: Action) -> dict[str, Any]:
    eq = world.equipment.get(action.equipment_id or "")
    here = world.building_at(a.x, a.y)
    if eq is None or here is None or eq.building_id != here.id:
        raise ActionRefused(f"no equipment {action.equipment_id!r} in the building {a.name} stands in")
    found = market.operation(eq.spec, action.operation)
    if isinstance(found, str):
        raise ActionRefused(found)
    op = found.name
    if eq.full:
        raise ActionRefused(f"{eq.spec.shown} is full ({eq.spec.capacity} in use)")
    board = world.task_board
    veto = board.allow_use(world, a, eq, op)
    veto = veto or market.refusal(world, a, here, eq.spec, found)
    if veto:
        raise ActionRefused(veto)
    lines = market.order_lines(eq.spec, action.items)
    if isinstance(lines, str):
        raise ActionRefused(lines)
    cost = found.cost + sum(ln.total for ln in lines)
    if cost > a.cash:
        raise ActionRefused(f"{a.name} has {a.cash} coins; {op} at {eq.spec.shown} costs {cost}")
    market.charge(world, a, here, found, lines)
    minutes = agent_day.clamp_minutes(action.minutes, a.visit_minutes or agent_day.DEFAULT_VISIT_MINUTES)
    income = board.wage(world, a, eq, found.earn * -(-minutes // WAGE_MINUTES))  # longer shifts earn more
    if income:
        world.pay("source:economy", f"agent:{a.id}", income, f"{op} at {here.name}")
    eq.users.append(a.id)
    world.dirty.equipment.add(eq.id)
    a.using, a.state = eq.id, ActorState.USING
    a.busy_until = world.clock.tick + agent_day.ticks_for(minutes, world.clock.tick_seconds)
    a.use_left = a.busy_until - world.clock.tick
    a.label = a.activity = f"{op} at {here.name}"
    a.acts_here += 1
    board.on_use(world, a, eq, op)
    bought = ", ".join(f"{ln.quantity} x {ln.item}" for ln in lines)
    return world.event("use", f"{a.name}: {op} at {here.name}" + (f" ({bought})" if bought else ""), a.id)


def _chat(world: World, a: AgentRecord, action: Action) -> dict[str, Any]:
    other = world.agents.get(action.target or "")
    if other is None:
        raise ActionRefused(f"{action.target!r} is not an agent; {a.name} cannot chat with it")
    a.acts_here += 1
    return talk.start(world, a, other, action.text, action.news)


def _sleep(world: World, a: AgentRecord, action: Action) -> dict[str, Any]:
    """Sleep until morning: one timed action, no model call until it ends."""
    _release(world, a)
    minutes = max(1, min(24 * 60, action.minutes))
    a.state, a.path, a.target = ActorState.SLEEPING, [], None
    a.busy_until = world.clock.tick + agent_day.ticks_for(minutes, world.clock.tick_seconds)
    home = world.buildings.get(a.home or "")
    a.activity = "sleeping"
    a.label = f"sleeping at {home.name}" if home is not None and home.entrance == (a.x, a.y) else "sleeping"
    return world.event("sleep", f"{a.name} went to sleep", a.id)
