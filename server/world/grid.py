"""The tile grid and A* pathfinding (4-connected, unit cost, Manhattan heuristic)."""

from __future__ import annotations

import heapq
from collections import OrderedDict
from collections.abc import Iterable

Point = tuple[int, int]


class Grid:
    """Walkable and blocked tiles. Buildings block their footprint except the entrance."""

    def __init__(self, width: int, height: int, walkable: Iterable[bool]):
        self.width = width
        self.height = height
        self.walk = bytearray(1 if w else 0 for w in walkable)
        if len(self.walk) != width * height:
            raise ValueError("walkable must have width*height cells")
        self._cache: OrderedDict[tuple[int, int], tuple[Point, ...] | None] = OrderedDict()
        self._cache_size = 4096

    @classmethod
    def from_rows(cls, rows: list[str], walkable_chars: dict[str, bool]) -> Grid:
        return cls(len(rows[0]), len(rows), (walkable_chars[c] for row in rows for c in row))

    def inside(self, x: int, y: int) -> bool:
        return 0 <= x < self.width and 0 <= y < self.height

    def walkable(self, x: int, y: int) -> bool:
        return self.inside(x, y) and self.walk[y * self.width + x] == 1

    def set_walkable(self, x: int, y: int, value: bool) -> None:
        self.walk[y * self.width + x] = 1 if value else 0
        self._cache.clear()

    def path(self, start: Point, goal: Point) -> tuple[Point, ...] | None:
        """The shortest path from start to goal, excluding start; None when unreachable. The
        start itself need not be walkable. Results are cached until the grid changes."""
        w = self.width
        key = (start[1] * w + start[0], goal[1] * w + goal[0])
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        p = self._astar(start, goal)
        self._cache[key] = p
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return p

    def _astar(self, start: Point, goal: Point) -> tuple[Point, ...] | None:
        if start == goal:
            return ()
        # the start may be blocked: an agent on a tile a building was just put up on walks off it
        if not (self.inside(*start) and self.walkable(*goal)):
            return None
        w, h, walk = self.width, self.height, self.walk
        s = start[1] * w + start[0]
        g = goal[1] * w + goal[0]
        gx, gy = goal
        came = {s: -1}
        cost = {s: 0}
        heap = [(abs(start[0] - gx) + abs(start[1] - gy), 0, s)]  # (f, -g, cell)
        push, pop = heapq.heappush, heapq.heappop
        while heap:
            _, negc, cur = pop(heap)
            c = -negc
            if cur == g:
                break
            if c > cost[cur]:
                continue
            cx, cy = cur % w, cur // w
            nc = c + 1
            for nxt, nx, ny in (
                (cur - 1, cx - 1, cy),
                (cur + 1, cx + 1, cy),
                (cur - w, cx, cy - 1),
                (cur + w, cx, cy + 1),
            ):
                if nx < 0 or nx >= w or ny < 0 or ny >= h or not walk[nxt]:
                    continue
                old = cost.get(nxt)
                if old is None or nc < old:
                    cost[nxt] = nc
                    came[nxt] = cur
                    # tie-break on larger g (deeper first) keeps the frontier small
                    push(heap, (nc + abs(nx - gx) + abs(ny - gy), -nc, nxt))
        else:
            return None
        if g not in came:
            return None
        out: list[Point] = []
        cur = g
        while cur != s:
            out.append((cur % w, cur // w))
            cur = came[cur]
        out.reverse()
        return tuple(out)
