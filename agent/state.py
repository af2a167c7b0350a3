"""The agent's record as the world keeps it: identity, position, state machine state."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

import orjson

from agent.interfaces import Memory, Planner


class ActorState(enum.StrEnum):
    """Where an agent is in its step cycle.

    inited -> moving -> (arrived) -> using | idle -> moving ... (an agent plans within one step,
    so no state stands for planning); at night: (home) -> sleeping -> (morning) idle.
    A timed action (a use, a wait, sleep)
    lasts until `AgentRecord.busy_until`; a conversation (`AgentRecord.conversation`) overlays
    whatever state the agent is in.
    """

    INITED = "inited"
    MOVING = "moving"
    USING = "using"
    CHATTING = "chatting"
    IDLE = "idle"
    SLEEPING = "sleeping"


_STEP_LETTERS = {(1, 0): "R", (-1, 0): "L", (0, 1): "D", (0, -1): "U"}
_LETTER_STEPS = {c: d for d, c in _STEP_LETTERS.items()}


def encode_path(x: int, y: int, path: list[tuple[int, int]]) -> str | list[tuple[int, int]]:
    """A walking path as stored in the agents table: one letter per step to a neighbouring tile
    (R, L, D, U), starting from (x, y). A 40-step path is 40 bytes instead of about 330 of JSON
    pairs, and every moving agent's row is rewritten each tick. A path with any other step (none
    that A* makes) is kept as the list of tiles."""
    letters = []
    for px, py in path:
        c = _STEP_LETTERS.get((px - x, py - y))
        if c is None:
            return path
        letters.append(c)
        x, y = px, py
    return "".join(letters)


def decode_path(x: int, y: int, stored: str | list[Any]) -> list[tuple[int, int]]:
    """The tiles of a stored path (letters from (x, y), or a list of tiles as rows before schema 4
    kept every path)."""
    if not isinstance(stored, str):
        return [(int(p[0]), int(p[1])) for p in stored]
    tiles = []
    for c in stored:
        try:
            dx, dy = _LETTER_STEPS[c]
        except KeyError:
            raise ValueError(f"stored path {stored!r}: {c!r} is not a step (R, L, D or U)") from None
        x, y = x + dx, y + dy
        tiles.append((x, y))
    return tiles


@dataclass(slots=True)
class AgentRecord:
    """One agent. `planner` and `memory` are its plug-in instances (not persisted as such:
    the planner dumps its state into `plan_state`, the memory's records go to the memories table)."""

    id: str
    name: str
    bio: str
    goal: str
    sprite: str
    llm: str
    plan: str
    memory_module: str
    x: int
    y: int
    cash: int = 0  # mirrors the ledger balance of agent:<id>
    state: ActorState = ActorState.INITED
    path: list[tuple[int, int]] = field(default_factory=list)
    target: str | None = None  # building id the agent is heading to or in
    purpose: str = ""
    using: str | None = None  # equipment id
    use_left: int = 0
    label: str = "just arrived in town"  # a short "what am I doing" line for the client
    owner: str | None = None  # the player who created it, if any
    home: str | None = None  # the building it lives in and sleeps in (server/world/housing.py)
    created_tick: int = 0
    failures: int = 0
    last_error: str | None = None
    inbox: list[str] = field(default_factory=list)  # events heard since the last step
    facts: list[str] = field(default_factory=list)
    # the agent's day (stored with the tick, see docs/agents.md)
    busy_until: int = 0  # the tick its current timed action (use, wait, sleep) ends
    activity: str = ""  # what that action is, in words
    visit_minutes: int = 0  # how long the plan step at `target` lasts, in game minutes
    conversation: str | None = None  # id of its open conversation
    acquaintances: dict[str, int] = field(default_factory=dict)  # whom it talked with -> last tick
    news: list[str] = field(default_factory=list)  # news it knows and may pass on
    told: dict[str, list[str]] = field(default_factory=dict)  # partner id -> news told them
    seen_tasks: list[str] = field(default_factory=list)  # mayor's tasks it has considered
    # the world's rules own these two (see server/world/rules.py); the actor reads them
    acts_here: int = 0  # actions taken in the building since arriving (a visit ends at a cap)
    last_target: str | None = None  # the building the agent last set out for
    avatar: bool = False  # a player's avatar: never thinks, acts by its player's commands
    plan_state: dict[str, Any] = field(default_factory=dict)  # the planner's own, from its dump()
    planner: Planner | None = field(default=None, repr=False, compare=False)
    mem: Memory | None = field(default=None, repr=False, compare=False)

    _PERSISTED = (
        "bio",
        "goal",
        "sprite",
        "llm",
        "plan",
        "memory_module",
        "path",
        "target",
        "purpose",
        "using",
        "use_left",
        "label",
        "owner",
        "home",
        "created_tick",
        "failures",
        "last_error",
        "inbox",
        "facts",
        "busy_until",
        "activity",
        "visit_minutes",
        "conversation",
        "acquaintances",
        "news",
        "told",
        "seen_tasks",
        "acts_here",
        "last_target",
        "avatar",
    )

    @property
    def asleep(self) -> bool:
        return self.state is ActorState.SLEEPING

    def to_row(self) -> dict[str, Any]:
        """The agents-table row."""
        data = {k: getattr(self, k) for k in self._PERSISTED}
        data["path"] = encode_path(self.x, self.y, self.path)
        data["plan_state"] = self.planner.dump() if self.planner is not None else self.plan_state
        return {
            "id": self.id,
            "name": self.name,
            "x": self.x,
            "y": self.y,
            "cash": self.cash,
            # orjson: under 1 us where json.dumps took 12 (every changed agent's row, every tick)
            "state": self.state.value,
            "data": orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS).decode(),
        }

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> AgentRecord:
        data = orjson.loads(row["data"])
        data["path"] = decode_path(row["x"], row["y"], data.get("path", []))
        return cls(
            id=row["id"],
            name=row["name"],
            x=row["x"],
            y=row["y"],
            cash=row["cash"],
            state=ActorState(row["state"]),
            **data,
        )

    def public(self) -> dict[str, Any]:
        """What any client may see of the agent."""
        return {
            "id": self.id,
            "name": self.name,
            "bio": self.bio,
            "goal": self.goal,
            "sprite": self.sprite,
            "llm": self.llm,
            "plan": self.plan,
            "memory": self.memory_module,
            "x": self.x,
            "y": self.y,
            "cash": self.cash,
            "state": self.state.value,
            "target": self.target,
            "purpose": self.purpose,
            "using": self.using,
            "label": self.label,
            "activity": self.activity,
            "busy_until": self.busy_until,
            "conversation": self.conversation,
            "owner": self.owner,
            "home": self.home,
            "failures": self.failures,
            "last_error": self.last_error,
            "avatar": self.avatar,
        }

    def brief(self) -> dict[str, Any]:
        """The per-tick delta of an agent."""
        return {
            "id": self.id,
            "x": self.x,
            "y": self.y,
            "state": self.state.value,
            "label": self.label,
            "cash": self.cash,
            "target": self.target,
            "purpose": self.purpose,
            "conversation": self.conversation,
        }
