"""Replay: every tick's agent changes kept compactly, and the town as it was at any tick.

Each tick's commit carries one `frames` row (same transaction): the zlib-compressed JSON of
`{"c": clock, "s": game seconds, "k": 1 if a keyframe, "a": [...], "g": [gone ids]}`. A keyframe
lists every agent's replay fields (`FIELDS`); any other frame lists, per agent that changed since
the previous frame, its id and the fields that changed, and the ids of agents that left. A
keyframe is written every `KEYFRAME_EVERY` ticks and at the first tick after the server starts,
opens a run or resets, so the town at tick T is the last keyframe at or before T with the frames
after it applied. Conversations and other events are not copied: the `events` table already
holds them by tick. `bench/replay.py` measures the bytes kept per agent-tick.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
import sqlalchemy as sa

from agent.state import AgentRecord
from server.db import schema as t
from server.db.repository import Repository
from server.errors import NotFound

if TYPE_CHECKING:
    from server.world.world import World

KEYFRAME_EVERY = 100
FIELDS = ("x", "y", "state", "label", "cash", "target", "purpose")
_LEVEL = 6


_KEYS = ("name", *FIELDS)


def _values(a: AgentRecord) -> tuple[Any, ...]:
    return (a.name, a.x, a.y, a.state.value, a.label, a.cash, a.target, a.purpose)


def fields_of(a: AgentRecord) -> dict[str, Any]:
    """An agent's replay fields, with its id and name."""
    return {"id": a.id, **dict(zip(_KEYS, _values(a), strict=True))}


@dataclass(eq=False)
class FrameRecorder:
    """Turns each tick's agents into that tick's frame; one per server, `forget` on a switch.

    It keeps each agent's values as a tuple (compared in C) and builds dicts only for the agents
    that changed."""

    last: dict[str, tuple[Any, ...]] = field(default_factory=dict)

    def forget(self) -> None:
        """The next frame is a keyframe (after a run is opened or reset)."""
        self.last = {}

    def of_world(self, w: World) -> bytes:
        """The compressed frame of the tick `w` has just advanced to."""
        return self.frame(w.clock.tick, str(w.clock), w.clock.game_seconds, w.agents.values())

    def frame(self, tick: int, clock: str, game_seconds: int, agents: Iterable[AgentRecord]) -> bytes:
        """The compressed frame of `tick`."""
        now = {a.id: _values(a) for a in agents}
        last = self.last
        body: dict[str, Any] = {"c": clock, "s": game_seconds}
        if not last or tick % KEYFRAME_EVERY == 0:
            body["k"] = 1
            body["a"] = [{"id": aid, **dict(zip(_KEYS, cur, strict=True))} for aid, cur in now.items()]
        else:
            out = []
            for aid, cur in now.items():
                old = last.get(aid)
                if old is None:
                    out.append({"id": aid, **dict(zip(_KEYS, cur, strict=True))})
                elif old != cur:
                    diff = {"id": aid}
                    for k, v, o in zip(_KEYS, cur, old, strict=True):
                        if v != o:
                            diff[k] = v
                    out.append(diff)
            body["a"] = out
            if len(last) > len(now) or any(aid not in now for aid in last):
                body["g"] = [aid for aid in last if aid not in now]
        self.last = now
        return zlib.compress(orjson.dumps(body), _LEVEL)


def decode(data: bytes) -> dict[str, Any]:
    """A stored frame, decompressed."""
    out: dict[str, Any] = orjson.loads(zlib.decompress(data))
    return out


@dataclass(frozen=True, slots=True)
class TownAt:
    """The agents as they were at one tick, and the run's recorded range."""

    tick: int
    clock: str
    game_seconds: int
    agents: list[dict[str, Any]]
    first_tick: int
    last_tick: int


async def frame_range(repo: Repository) -> tuple[int, int] | None:
    """The first and last tick with a frame, or None before the first."""
    async with repo.engine.connect() as c:
        lo, hi = (
            await c.execute(sa.select(sa.func.min(t.frames.c.tick), sa.func.max(t.frames.c.tick)))
        ).one()
    return None if lo is None else (int(lo), int(hi))


async def town_at(repo: Repository, tick: int) -> TownAt:
    """The agents at `tick`: the last keyframe at or before it with the later frames applied."""
    span = await frame_range(repo)
    if span is None:
        raise NotFound("this run has no recorded ticks yet")
    if not span[0] <= tick <= span[1]:
        raise NotFound(f"tick {tick} is outside this run's recorded ticks {span[0]}-{span[1]}")
    stack: list[dict[str, Any]] = []  # frames from `tick` back to a keyframe, newest first
    async with repo.engine.connect() as c:
        hi = tick
        while True:
            lo = max(span[0], hi - KEYFRAME_EVERY)
            rows = await c.execute(
                sa.select(t.frames.c.data)
                .where(t.frames.c.tick.between(lo, hi))
                .order_by(t.frames.c.tick.desc())
            )
            for (data,) in rows:
                stack.append(decode(data))
                if stack[-1].get("k"):
                    break
            if (stack and stack[-1].get("k")) or lo == span[0]:
                break
            hi = lo - 1
    agents: dict[str, dict[str, Any]] = {}
    for f in reversed(stack):
        if f.get("k"):
            agents = {a["id"]: dict(a) for a in f["a"]}
            continue
        for a in f["a"]:
            agents.setdefault(a["id"], {}).update(a)
        for gone in f.get("g", ()):
            agents.pop(gone, None)
    last = stack[0]
    return TownAt(tick, last["c"], int(last["s"]), sorted(agents.values(), key=lambda a: a["id"]), *span)


async def frames_between(repo: Repository, lo: int, hi: int) -> list[tuple[int, dict[str, Any]]]:
    """The frames of ticks `lo`..`hi`, decoded, with each tick's events under `events`."""
    async with repo.engine.connect() as c:
        rows = await c.execute(
            sa.select(t.frames.c.tick, t.frames.c.data)
            .where(t.frames.c.tick.between(lo, hi))
            .order_by(t.frames.c.tick)
        )
        frames = [(int(tick), decode(data)) for tick, data in rows]
        evs = await c.execute(
            sa.select(
                t.events.c.tick, t.events.c.kind, t.events.c.agent_id, t.events.c.other_id, t.events.c.text
            )
            .where(t.events.c.tick.between(lo, hi))
            .order_by(t.events.c.id)
        )
        by_tick: dict[int, list[dict[str, Any]]] = {}
        for tick, kind, agent_id, other_id, text in evs:
            by_tick.setdefault(int(tick), []).append(
                {"kind": kind, "agent_id": agent_id, "other_id": other_id, "text": text}
            )
    for tick, f in frames:
        f["events"] = by_tick.get(tick, [])
    return frames
