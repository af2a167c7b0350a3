"""The server's own work per agent step, with the LLM taken out: the scripted model (offline, no
latency), N agents, several ticks sent over a websocket to the real server, one subscriber
connected and reading every delta. An agent's tick is its plan/act decision (or its walk along
the path, or the count-down of the action it is busy with), the world update, its share of the
tick's commit and of the broadcast.

Figures: agent ticks per second (every agent's tick, busy ones included: the target, at least
2000 at 1000 agents), agent steps per second (agents that thought or walked, over tick wall
time) and the thinking steps alone; where a tick's time goes, as the server reports it in each `tick` answer
(`phases_ms`: perceive, think, apply, commit, publish; the median of each over the ticks); and a
cProfile summary (top functions by own time and by cumulative time), from a separate profiled
run of the same ticks.
"""

from __future__ import annotations

import asyncio
import cProfile
import io
import pstats
import statistics
import sys
from collections.abc import Sequence
from typing import Any

from bench._common import ADMIN, emit, main_async, now, scratch, settings


async def _ticks(n: int, ticks: int, profile: bool) -> tuple[dict[str, Any], pstats.Stats | None]:
    from server.app import run_town, tune_gc
    from townclient import TownClient

    with scratch() as tmp:
        async with run_town(settings(tmp, n)) as town:
            tune_gc()  # as `python -m server` does once the town is loaded
            admin = await TownClient.connect(town.ws_url)
            sub = await TownClient.connect(town.ws_url)
            await admin.call("login", token=ADMIN)
            await sub.subscribe()
            got = 0

            async def read() -> None:
                nonlocal got
                while True:  # counted undecoded: decoding would add the client's CPU to the server's
                    p = await sub.next_raw_push(timeout=600)
                    got += p.data.startswith(b'{"type":"tick"')

            reader = asyncio.create_task(read())
            prof = cProfile.Profile() if profile else None
            stepped = moved = 0
            walls = []
            phases: dict[str, list[float]] = {}
            if prof:
                prof.enable()
            for _ in range(ticks):
                t0 = now()
                s = await admin.call("tick")
                walls.append(now() - t0)
                stepped += s["stepped"]
                moved += s["moved"]
                for name, ms in s["phases_ms"].items():
                    phases.setdefault(name, []).append(ms)
            if prof:
                prof.disable()
            while got < ticks:  # noqa: ASYNC110 - a few ms at most: the last delta is in flight
                await asyncio.sleep(0.01)
            reader.cancel()
            await admin.close()
            await sub.close()
    wall = sum(walls)
    return (
        {
            "agents": n,
            "ticks": ticks,
            "stepped": stepped,
            "moved": moved,
            "wall_s": round(wall, 3),
            "ms_per_tick": round(wall * 1000 / ticks, 2),
            "agent_steps_per_s": round((stepped + moved) / wall, 1),
            # every agent's tick, busy ones included (the `day` benchmark's agent-step): agents
            # busy with a timed action neither think nor walk, and cost a count-down
            "agent_ticks_per_s": round(n * ticks / wall, 1),
            "thinking_steps_per_s": round(stepped / wall, 1),
            "us_per_agent_step": round(wall * 1e6 / max(1, stepped + moved), 1),
            "median_phase_ms": {name: round(statistics.median(v), 2) for name, v in phases.items()},
            "deltas_received": got,
        },
        pstats.Stats(prof) if prof else None,
    )


def summary(stats: pstats.Stats, key: str, top: int = 8) -> list[dict[str, Any]]:
    """The top functions of a profile: name, calls, own and cumulative seconds."""
    stats.sort_stats(key)
    out = []
    for func in stats.fcn_list[:top]:  # type: ignore[attr-defined]
        cc, nc, tt, ct, _ = stats.stats[func]  # type: ignore[attr-defined]
        file, line, name = func
        short = file.split("site-packages/")[-1].split("/work/main/")[-1]
        out.append(
            {
                "fn": f"{short}:{line}({name})",
                "calls": nc,
                "tottime_s": round(tt, 3),
                "cumtime_s": round(ct, 3),
            }
        )
    return out


async def run(quick: bool) -> None:
    sizes, ticks = ([100], 3) if quick else ([100, 1000], 10)
    rows = {}
    for n in sizes:
        rows[str(n)], _ = await _ticks(n, ticks, profile=False)
    _, stats = await _ticks(sizes[-1], ticks, profile=True)
    assert stats is not None
    stats.stream = io.StringIO()  # type: ignore[attr-defined]
    total = stats.total_tt  # type: ignore[attr-defined]
    prof = {
        "agents": sizes[-1],
        "total_s": round(total, 3),
        "top_tottime": summary(stats, "tottime"),
        "top_cumtime": summary(stats, "cumulative", 12),
    }
    # the target counts every agent's tick (the `day` benchmark's agent-step): when it was set,
    # every agent thought or walked every tick; since agents live a day, a busy agent does neither
    big = rows[str(sizes[-1])]["agent_ticks_per_s"]
    emit(
        "server_overhead",
        {
            "sizes": sizes,
            "ticks": ticks,
            "llm": "scripted (offline, no latency)",
            "plan": "qa",
            "memory": "long_term",
            "subscribers": 1,
        },
        {"by_agents": rows, "profile": prof},
        f"agent ticks/s >= 2000 at {sizes[-1]} agents",
        big >= 2000,
    )


def main(argv: Sequence[str] | None = None) -> None:
    main_async(run, argv, __doc__ or "")


if __name__ == "__main__":
    main(sys.argv[1:])
