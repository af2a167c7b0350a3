"""Where a building template fits: every top-left position at which `World.place_building` would
put it up (each footprint tile inside the map, walkable, not another building's entrance or open inner cell, and no
agent standing on it except on the new entrance). Used by the `find_site` command, and so by the
browser client's placement preview."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from server.world.town import BuildingTemplate

if TYPE_CHECKING:
    from server.world.world import World


def _rect_sums(cells: np.ndarray, w: int, h: int) -> np.ndarray:
    """For every top-left (x, y) of a w x h rectangle inside `cells`, the sum of the cells it
    covers; shape (rows - h + 1, cols - w + 1)."""
    rows, cols = cells.shape
    integral = np.zeros((rows + 1, cols + 1), dtype=np.int64)
    integral[1:, 1:] = cells.cumsum(0).cumsum(1)
    return (
        integral[h:, w:]
        - integral[: rows + 1 - h, w:]
        - integral[h:, : cols + 1 - w]
        + integral[: rows + 1 - h, : cols + 1 - w]
    )


def free_sites(
    world: World, tpl: BuildingTemplate, near: tuple[int, int] | None = None
) -> list[tuple[int, int]]:
    """Every top-left (x, y) where `tpl` can be put up now: nearest first (by walking distance
    on the map's grid from `near` to the new entrance, ignoring obstacles), else row by row."""
    grid = world.grid
    fw, fh = tpl.footprint.w, tpl.footprint.h
    if fw > grid.width or fh > grid.height:
        return []
    blocked = 1 - np.frombuffer(bytes(grid.walk), dtype=np.uint8).reshape(grid.height, grid.width).astype(
        np.int64
    )
    for b in world.buildings.values():  # entrances and open inner cells: walkable, not to build on
        for ex, ey in b.open_tiles():
            blocked[ey, ex] = 1
    agents = np.zeros_like(blocked)
    for a in world.agents.values():
        if grid.inside(a.x, a.y):
            agents[a.y, a.x] += 1
    dx, dy = tpl.entrance.dx, tpl.entrance.dy
    rows, cols = grid.height - fh + 1, grid.width - fw + 1
    standing = _rect_sums(agents, fw, fh) - agents[dy : dy + rows, dx : dx + cols]
    ok = (_rect_sums(blocked, fw, fh) == 0) & (standing == 0)
    ys, xs = np.nonzero(ok)  # row by row
    if near is not None and len(xs):
        dist = np.abs(xs + dx - near[0]) + np.abs(ys + dy - near[1])
        order = np.lexsort((xs, ys, dist))
        xs, ys = xs[order], ys[order]
    return list(zip(xs.tolist(), ys.tolist(), strict=True))
