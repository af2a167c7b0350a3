"""A* (`server.world.grid.Grid.path`) on a 140x100 tile map: ~20% random blocked tiles plus some
long walls with gaps, between random pairs of reachable points. Median ms per path with the path
cache cleared before every query, and with the cache warm (the same pairs asked again).

The baseline, in the same run on the same pairs: a plain breadth-first search from the start
until the goal is reached (Generative Agents' path finder floods its maze outward from the start
in the same way), which also checks that every A* path is a shortest one.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

from bench._common import args, emit

W, H = 140, 100


def make_map(seed: int = 7) -> list[list[bool]]:
    rng = random.Random(seed)
    walk = [[rng.random() >= 0.2 for _ in range(W)] for _ in range(H)]
    for _ in range(8):  # walls with a few gaps
        if rng.random() < 0.5:
            y, x0 = rng.randrange(H), rng.randrange(W // 2)
            for x in range(x0, min(W, x0 + rng.randrange(30, 90))):
                walk[y][x] = rng.random() < 0.05
        else:
            x, y0 = rng.randrange(W), rng.randrange(H // 2)
            for y in range(y0, min(H, y0 + rng.randrange(20, 70))):
                walk[y][x] = rng.random() < 0.05
    return walk


def largest_component(walk: list[list[bool]]) -> list[tuple[int, int]]:
    seen: set[tuple[int, int]] = set()
    best: list[tuple[int, int]] = []
    for y in range(H):
        for x in range(W):
            if walk[y][x] and (x, y) not in seen:
                comp, q = [], deque([(x, y)])
                seen.add((x, y))
                while q:
                    cx, cy = q.popleft()
                    comp.append((cx, cy))
                    for nx, ny in ((cx + 1, cy), (cx - 1, cy), (cx, cy + 1), (cx, cy - 1)):
                        if 0 <= nx < W and 0 <= ny < H and walk[ny][nx] and (nx, ny) not in seen:
                            seen.add((nx, ny))
                            q.append((nx, ny))
                if len(comp) > len(best):
                    best = comp
    return best


def bfs_length(walk: list[list[bool]], start: tuple[int, int], goal: tuple[int, int]) -> int:
    """Steps of a shortest path by breadth-first search (the baseline); -1 when unreachable."""
    dist = {start: 0}
    q = deque([start])
    while q:
        cur = q.popleft()
        if cur == goal:
            return dist[cur]
        cx, cy = cur
        for nxt in ((cx + 1, cy), (cx - 1, cy), (cx, cy + 1), (cx, cy - 1)):
            nx, ny = nxt
            if 0 <= nx < W and 0 <= ny < H and walk[ny][nx] and nxt not in dist:
                dist[nxt] = dist[cur] + 1
                q.append(nxt)
    return -1


def run(quick: bool) -> None:
    from server.world.grid import Grid

    walk = make_map()
    grid = Grid(W, H, (walk[y][x] for y in range(H) for x in range(W)))
    reachable = largest_component(walk)
    rng = random.Random(11)
    pairs = [(rng.choice(reachable), rng.choice(reachable)) for _ in range(50 if quick else 500)]
    cold: list[float] = []
    lengths: list[int] = []
    for s, g in pairs:
        grid._cache.clear()
        t0 = time.perf_counter()
        p = grid.path(s, g)
        cold.append(time.perf_counter() - t0)
        assert p is not None, (s, g)
        lengths.append(len(p))
    baseline: list[float] = []
    for (s, g), n in zip(pairs, lengths, strict=True):
        t0 = time.perf_counter()
        steps = bfs_length(walk, s, g)
        baseline.append(time.perf_counter() - t0)
        assert steps == n, f"A* found {n} steps from {s} to {g}, breadth-first search {steps}"
    for s, g in pairs:  # fill the cache (the cold loop cleared it before every query)
        grid.path(s, g)
    warm: list[float] = []
    for s, g in pairs:
        t0 = time.perf_counter()
        grid.path(s, g)
        warm.append(time.perf_counter() - t0)

    def ms(xs: list[float], q: float | None = None) -> float:
        return round((statistics.median(xs) if q is None else sorted(xs)[int(q * len(xs))]) * 1000, 4)

    figs: dict[str, Any] = {
        "paths": len(pairs),
        "blocked_fraction": round(1 - sum(map(sum, walk)) / (W * H), 3),
        "median_path_len": statistics.median(lengths),
        "uncached_median_ms": ms(cold),
        "uncached_p90_ms": ms(cold, 0.9),
        "uncached_max_ms": round(max(cold) * 1000, 3),
        "cached_median_ms": ms(warm),
        "baseline_bfs_median_ms": ms(baseline),
        "speedup_vs_bfs_median": round(statistics.median(baseline) / statistics.median(cold), 1),
    }
    emit(
        "pathfinding",
        {"map": f"{W}x{H}", "blocked": "~20% random + walls", "pairs": len(pairs)},
        figs,
        "uncached median < 2 ms",
        figs["uncached_median_ms"] < 2,
    )


def main(argv: Sequence[str] | None = None) -> None:
    run(args(argv, __doc__ or "").quick)


if __name__ == "__main__":
    main(sys.argv[1:])
