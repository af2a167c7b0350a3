"""Checks on a town's files before a server runs them: buildings that overlap or leave the map,
and entrances that cannot be walked to (used by the AgentSims importer)."""

from __future__ import annotations

from server.world.grid import Grid
from server.world.town import TILE_CHARS, TownFiles


def unreachable(tf: TownFiles) -> list[str]:
    """Placed buildings that overlap, or whose entrance cannot be reached from the first one's."""
    grid = Grid.from_rows(tf.map.tiles, TILE_CHARS)
    taken: set[tuple[int, int]] = set()
    entrances: list[tuple[str, tuple[int, int]]] = []
    out: list[str] = []
    for b in tf.map.buildings:
        t = tf.templates[b.template]
        cells = {(b.x + dx, b.y + dy) for dy in range(t.footprint.h) for dx in range(t.footprint.w)}
        if cells & taken or any(not grid.inside(x, y) for x, y in cells):
            out.append(f"building {b.id} overlaps another or leaves the map; the server will refuse it")
            continue
        taken |= cells
        open_cells = {(b.x + t.entrance.dx, b.y + t.entrance.dy)}
        if t.inner is not None:
            open_cells |= {
                (b.x + dx, b.y + dy)
                for dy, r in enumerate(t.inner.rows)
                for dx, c in enumerate(r)
                if c == "."
            }
        for x, y in cells:
            grid.set_walkable(x, y, (x, y) in open_cells)
        entrances.append((b.id, (b.x + t.entrance.dx, b.y + t.entrance.dy)))
    for bid, e in entrances[1:]:
        if grid.path(entrances[0][1], e) is None:
            out.append(f"building {bid}'s entrance {e} cannot be reached from {entrances[0][0]}'s")
    return out
