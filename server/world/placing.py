"""Putting up buildings: where one may stand, its id, its equipment, and the tiles it blocks.

`place_building` validates first and raises a `GameError` before touching anything, so a refused
building changes nothing (the world's rule, server/world/world.py).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from server.errors import Conflict, NotFound
from server.world.things import Building, Equipment

if TYPE_CHECKING:
    from server.world.world import World


def slug(text: str) -> str:
    """`text` as an id: lower-case letters and digits, dashes between, at most 32 characters."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:32] or "x"


def place_building(
    w: World,
    template: str,
    x: int,
    y: int,
    *,
    name: str | None = None,
    building_id: str | None = None,
    owner: str | None = None,
) -> Building:
    """Put up a building on free walkable tiles. Raises without changing anything."""
    tpl = w.town.templates.get(template)
    if tpl is None:
        raise NotFound(f"no building template {template!r}; known: {sorted(w.town.templates)}")
    bid = building_id or free_id(slug(name or tpl.name), w.buildings)
    if bid in w.buildings:
        raise Conflict(f"a building with id {bid!r} exists")
    seq = max((x.seq for x in w.buildings.values()), default=0) + 1
    b = Building(bid, tpl, name or tpl.name, x, y, owner, w.clock.tick, seq)
    occupied = {(a.x, a.y) for a in w.agents.values()}
    # walkable, but not to build on: entrances and the open cells inside other buildings
    doors = {t: o for o in w.buildings.values() for t in o.open_tiles()}
    for tx, ty in b.tiles():
        if not w.grid.inside(tx, ty):
            raise Conflict(f"{tpl.name} at ({x},{y}) does not fit the {w.grid.width}x{w.grid.height} map")
        if not w.grid.walkable(tx, ty):
            raise Conflict(
                f"tile ({tx},{ty}) is not free: {tpl.name} needs {tpl.footprint.w}x{tpl.footprint.h} free tiles at ({x},{y})"
            )
        if (tx, ty) in doors:
            o = doors[(tx, ty)]
            raise Conflict(
                f"tile ({tx},{ty}) is the entrance of {o.name}"
                if (tx, ty) == o.entrance
                else f"tile ({tx},{ty}) is inside {o.name}"
            )
        if (tx, ty) in occupied and (tx, ty) != b.entrance:
            raise Conflict(f"tile ({tx},{ty}) has an agent standing on it")
    block(w, b)
    w.buildings[b.id] = b
    for i, spec_name in enumerate(tpl.equipment):
        eq = Equipment(f"{b.id}/{i}-{slug(spec_name)}", b.id, w.town.equipment[spec_name])
        b.equipment.append(eq)
        w.equipment[eq.id] = eq
        w.dirty.equipment.add(eq.id)
    w.dirty.buildings.add(b.id)
    return b


def block(w: World, b: Building) -> None:
    """Make a building's tiles unwalkable, but for its open ones (the entrance and inside)."""
    open_tiles = b.open_tiles()
    for tx, ty in b.tiles():
        w.grid.set_walkable(tx, ty, (tx, ty) in open_tiles)


def free_id(base: str, taken: dict[str, Any] | set[str]) -> str:
    """`base`, or `base-2`, `base-3` ...: the first not in `taken`."""
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"
