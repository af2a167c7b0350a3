"""The town's people: creating an agent (its checks, id, home, starting cash and facts) and
removing one (its cash, its equipment, its conversation, its job).

Both validate first and raise a `GameError` before touching anything, so a refused request
changes nothing (the world's rule, server/world/world.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent.interfaces import MemoryRecord
from agent.state import AgentRecord
from server.errors import Conflict, LimitReached, NoSuchLLM, NoSuchPlugin
from server.records import Changes
from server.world import housing
from server.world.names import check_name, name_key
from server.world.placing import free_id, slug
from server.world.talk import close as close_conversation

if TYPE_CHECKING:
    from server.world.world import World


def add_agent(
    w: World,
    name: str,
    bio: str,
    goal: str,
    *,
    cash: int = 100,
    sprite: str = "default",
    llm: str = "default",
    plan: str = "qa",
    memory: str = "long_term",
    at: tuple[int, int] | None = None,
    owner: str | None = None,
    facts: list[str] | None = None,
    home: str | None = None,
    avatar: bool = False,
) -> AgentRecord:
    """Create an agent with its starting cash granted through the ledger. In a town with
    housing it gets a bed (`home` if given) or is refused (see server/world/housing.py).
    A player's `avatar` (server/world/avatar.py) has no home and never thinks."""
    if len(w.agents) >= w.max_agents:
        raise LimitReached(f"the town has its maximum of {w.max_agents} agents")
    name = check_name(name, "agent name")
    key = name_key(name)
    if any(name_key(a.name) == key for a in w.agents.values()):
        raise Conflict(f"an agent named {name!r} exists (names are compared ignoring case and spacing)")
    if plan not in w.plugins.planner_names():
        raise NoSuchPlugin(f"unknown plan module {plan!r}; valid: {w.plugins.planner_names()}")
    if memory not in w.plugins.memory_names():
        raise NoSuchPlugin(f"unknown memory module {memory!r}; valid: {w.plugins.memory_names()}")
    if llm not in w.llm_names:
        raise NoSuchLLM(f"unknown llm {llm!r}; valid: {w.llm_names}")
    if at is None:
        at = _spawn_point(w)
    elif not w.grid.walkable(*at):
        raise Conflict(f"tile {at} is not walkable")
    home = None if avatar else housing.bed_for(w, home)
    aid = free_id(slug(name), w.agent_ids)
    a = AgentRecord(
        aid,
        name,
        bio,
        goal,
        sprite,
        llm,
        plan,
        memory,
        at[0],
        at[1],
        owner=owner,
        created_tick=w.clock.tick,
        facts=list(facts or []),
        home=home if home is not None or avatar else _home_for(w, at),  # housing's bed, else the nearest home
        news=list(facts or [])[-5:],
        avatar=avatar,
    )
    w._attach_plugins(a)
    w.agents[aid] = a
    w.agent_ids.add(aid)
    w.dirty.extra.append(Changes(agent_ids=[{"id": aid, "created_tick": w.clock.tick, "removed_tick": None}]))
    if cash > 0:
        w.pay("source:grant", f"agent:{aid}", cash, "starting cash")
    w.dirty.agents.add(aid)
    for fact in a.facts:
        assert a.mem is not None
        a.mem.load([MemoryRecord(aid, "observation", fact, w.clock.tick, importance=8.0)])
        w.new_memories.append(MemoryRecord(aid, "observation", fact, w.clock.tick, importance=8.0))
    return a


def _home_for(w: World, at: tuple[int, int]) -> str | None:
    """A home for an agent without one: the home building nearest to where it starts."""
    homes = [b for b in w.buildings.values() if b.template.kind == "home"]
    if not homes:
        return None
    return min(homes, key=lambda b: (abs(b.entrance[0] - at[0]) + abs(b.entrance[1] - at[1]), b.id)).id


def _spawn_point(w: World) -> tuple[int, int]:
    walk = [(x, y) for y in range(w.grid.height) for x in range(w.grid.width) if w.grid.walkable(x, y)]
    if not walk:
        raise Conflict("the map has no walkable tile")
    return w.rng.choice(walk)


def remove_agent(w: World, agent_id: str) -> None:
    """Delete an agent; its remaining cash leaves the town (sink:consumption), its job ends."""
    a = w.agent(agent_id)
    if a.cash > 0:
        w.pay(f"agent:{a.id}", "sink:consumption", a.cash, "agent removed")
    if a.using and a.using in w.equipment:
        w.equipment[a.using].users.remove(a.id)
        w.dirty.equipment.add(a.using)
    if a.conversation in w.conversations:
        close_conversation(w, w.conversations[a.conversation], "partner gone")
    del w.agents[agent_id]
    w.jobs.pop(agent_id, None)
    w.dirty.agents.discard(agent_id)
    w.dirty.extra.append(
        Changes(
            agents_removed=[agent_id],
            agent_ids=[{"id": agent_id, "created_tick": a.created_tick, "removed_tick": w.clock.tick}],
        )
    )
