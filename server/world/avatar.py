"""A player's avatar: the player in the town as a character.

An avatar is an `AgentRecord` with `avatar` set, owned by its player. It is stored, pushed,
perceived and paid like any agent (so agents see it in sight, may greet it and talk with it, and
its cash moves only through the ledger), but it never thinks: `server.world.day.needs_step` leaves
it out, and what it does comes from its player's commands (`join`, `leave`, `move_to`, `use`,
`say`), which act through the same rules as an agent's actions (`server.world.rules`). A player
has at most one avatar; walking away from a conversation ends it.
"""

from __future__ import annotations

from agent.state import ActorState, AgentRecord
from server.errors import ActionRefused, Conflict, NoAvatar, NotFound
from server.world import day, population, talk
from server.world.world import World

START_CASH = 100  # an avatar's starting cash, granted through the ledger (`source:grant`)
AVATAR_BIO = "A visitor to the town, played by a person."


def of(world: World, player: str | None) -> AgentRecord | None:
    """The player's avatar, if it is in the town."""
    if player is None:
        return None
    return next((a for a in world.agents.values() if a.avatar and a.owner == player), None)


def mine(world: World, player: str | None) -> AgentRecord:
    """The player's avatar, or NoAvatar."""
    a = of(world, player)
    if a is None:
        raise NoAvatar(f"{player or 'this session'} has no avatar in the town; send join first")
    return a


def join(
    world: World, player: str, name: str, sprite: str, *, cash: int = START_CASH, at: str | None = None
) -> AgentRecord:
    """Put the player's avatar in the town (at building `at`'s entrance, else a walkable tile),
    with its starting cash granted through the ledger: an agent (`World.add_agent`, so names and
    ids follow the agents' rules) flagged `avatar`, without a home."""
    if of(world, player) is not None:
        raise Conflict(f"{player} already has an avatar in the town")
    x_y = None  # a tile, when a building is named
    if at is not None:
        if at not in world.buildings:
            raise NotFound(f"no building {at!r}")
        x_y = world.buildings[at].entrance
    a = population.add_agent(
        world,
        name,
        AVATAR_BIO,
        "",
        cash=cash,
        sprite=sprite,
        llm=world.llm_names[0],
        plan=world.plugins.planner_names()[0],
        memory=world.plugins.memory_names()[0],
        at=x_y,
        owner=player,
        avatar=True,
    )
    here = world.building_at(a.x, a.y)
    a.target = here.id if here is not None else None
    return a


def leave_conversation(world: World, a: AgentRecord, reason: str) -> None:
    """End the avatar's open conversation, if it has one."""
    c = world.conversations.get(a.conversation or "")
    if c is not None:
        talk.close(world, c, reason)


def move_to(world: World, a: AgentRecord, *, building: str | None, x: int | None, y: int | None) -> int:
    """Set the avatar walking to a building's entrance or a tile along the A* path; the tick's
    walk moves it `move_tiles` tiles a tick. Walking off ends its conversation and its use.
    Returns the path's length in tiles."""
    if building is not None:
        b = world.buildings.get(building)
        if b is None:
            raise NotFound(f"no building {building!r}")
        goal = b.entrance
    else:
        assert x is not None and y is not None
        if not world.grid.inside(x, y) or not world.grid.walkable(x, y):
            raise ActionRefused(f"tile ({x},{y}) is not walkable")
        goal = (x, y)
        b = world.building_at(x, y)
    path = world.grid.path((a.x, a.y), goal)
    if path is None:
        raise ActionRefused(f"({goal[0]},{goal[1]}) cannot be reached from ({a.x},{a.y})")
    leave_conversation(world, a, "walked away")
    day.release(world, a)
    a.path = list(path)
    a.target = b.id if b is not None else None
    a.last_target = a.target
    a.purpose, a.busy_until, a.activity, a.acts_here = "", 0, "", 0
    where = b.name if b is not None else f"({goal[0]},{goal[1]})"
    if a.path:
        a.state, a.label = ActorState.MOVING, f"walking to {where}"
    else:
        a.state, a.label = ActorState.IDLE, f"at {where}"
    world.dirty.agents.add(a.id)
    return len(a.path)
